//! Turns PEM bytes into a rustls acceptor whose certificate can be replaced
//! while the server runs.
//!
//! The crypto provider is passed explicitly (aws-lc-rs) instead of relying on
//! a process-wide default, which panics when both ring and aws-lc-rs are
//! linked and would make tests order-dependent.
//!
//! The acceptor asks [`Certificates`] for the certificate on every
//! handshake, so a reload that swaps it (cert-manager renewing a Secret)
//! reaches new connections at once, while connections already open keep
//! the session they negotiated.

use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::errors::Error;

/// A certificate chain and its private key, both PEM-encoded.
#[derive(Debug, Clone)]
pub struct TlsPem {
    pub cert_chain: Vec<u8>,
    pub private_key: tusk_core::Secret<Vec<u8>>,
}

/// The certificate new handshakes get; replaced whole by [`Certificates::replace`].
pub(crate) struct Certificates {
    current: RwLock<Arc<CertifiedKey>>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is never printed; the chain is public but long.
        f.write_str("Certificates")
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

impl Certificates {
    /// Checks `pem` completely (parses, key matches the first certificate)
    /// before it replaces the current pair; on an error the current pair
    /// keeps serving.
    pub(crate) fn replace(&self, pem: &TlsPem) -> Result<(), Error> {
        let key = certified_key(pem)?;
        if let Ok(mut current) = self.current.write() {
            *current = key;
        }
        Ok(())
    }
}

/// Whether `pem` would be accepted by [`Certificates::replace`].
pub(crate) fn check(pem: &TlsPem) -> Result<(), Error> {
    certified_key(pem).map(|_| ())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The chain and key of `pem`, checked to belong together.
fn certified_key(pem: &TlsPem) -> Result<Arc<CertifiedKey>, Error> {
    let certs = CertificateDer::pem_slice_iter(&pem.cert_chain)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::TlsCertificate {
            cause: describe(&e, "CERTIFICATE"),
        })?;
    if certs.is_empty() {
        return Err(Error::TlsCertificate {
            cause: describe(&pem::Error::NoItemsFound, "CERTIFICATE"),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(pem.private_key.expose()).map_err(|e| {
        Error::TlsPrivateKey {
            cause: describe(&e, "PRIVATE KEY"),
        }
    })?;
    // `from_der` also compares the key with the first certificate's public
    // key, which `with_single_cert` did before certificates became
    // replaceable.
    let key = CertifiedKey::from_der(certs, key, &provider()).map_err(Error::TlsConfig)?;
    Ok(Arc::new(key))
}

pub(crate) fn acceptor(pem: &TlsPem) -> Result<(TlsAcceptor, Arc<Certificates>), Error> {
    let certificates = Arc::new(Certificates {
        current: RwLock::new(certified_key(pem)?),
    });
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(Error::TlsConfig)?
        .with_no_client_auth()
        .with_cert_resolver(certificates.clone());
    // h2 first: clients that can multiplex (gRPC) should.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), certificates))
}

/// Our own wording of PEM errors: the library's `Display` quotes input lines
/// and decoder details, which for a key file means key material.
fn describe(e: &pem::Error, what: &str) -> String {
    match e {
        pem::Error::NoItemsFound => format!(
            "no '-----BEGIN {what}-----' block found (is the file empty, DER, \
             encrypted, or the wrong file?)"
        ),
        pem::Error::MissingSectionEnd { .. } => {
            "a '-----BEGIN' line has no matching '-----END' line (truncated file?)".to_owned()
        }
        pem::Error::IllegalSectionStart { .. } => "a '-----BEGIN' line is malformed".to_owned(),
        pem::Error::Base64Decode(_) => "a PEM block holds invalid base64".to_owned(),
        pem::Error::Io(io) => format!("I/O error: {io}"),
        pem::Error::SectionTooLarge => "a PEM block is larger than 256 MB".to_owned(),
        _ => "the PEM data is not readable".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tusk_core::Secret;

    /// A fresh self-signed pair: (certificate PEM, key PEM).
    fn generate() -> (Vec<u8>, Vec<u8>) {
        let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        (
            pair.cert.pem().into_bytes(),
            pair.signing_key.serialize_pem().into_bytes(),
        )
    }

    fn pem(cert: &[u8], key: &[u8]) -> TlsPem {
        TlsPem {
            cert_chain: cert.to_vec(),
            private_key: Secret::new(key.to_vec()),
        }
    }

    #[test]
    fn accepts_a_matching_pair() {
        let (cert, key) = generate();
        assert!(acceptor(&pem(&cert, &key)).is_ok());
    }

    #[test]
    fn bad_pem_names_the_part_and_never_echoes_the_key() {
        let (cert, key) = generate();
        let garbled_key =
            b"-----BEGIN PRIVATE KEY-----\nS3CR3T!!S3CR3T\n-----END PRIVATE KEY-----\n";
        let truncated_key = b"-----BEGIN PRIVATE KEY-----\nS3CR3TS3CR3T\n";
        let bad_start = b"-----BEGIN PRIVATE KEY S3CR3T\n";
        let table: [(&[u8], &[u8], &str); 6] = [
            (b"", &key, "certificate chain"),
            (b"not a pem", &key, "certificate chain"),
            (&cert, b"", "private key"),
            (&cert, garbled_key, "private key"),
            (&cert, truncated_key, "private key"),
            (&cert, bad_start, "private key"),
        ];
        for (cert, key, part) in table {
            let err = acceptor(&pem(cert, key)).err().unwrap();
            let msg = err.to_string();
            assert!(msg.contains(part), "{msg}");
            assert!(msg.contains("fix:"), "{msg}");
            assert!(!msg.contains("S3CR3T"), "{msg}");
        }
    }

    #[test]
    fn key_of_another_certificate_is_a_config_error() {
        let (cert, _) = generate();
        let (_, other_key) = generate();
        let result = acceptor(&pem(&cert, &other_key));
        assert!(
            matches!(result, Err(Error::TlsConfig(_))),
            "{:?}",
            result.err()
        );
    }

    #[test]
    fn a_bad_replacement_keeps_the_current_certificate() {
        let (cert, key) = generate();
        let (_, certs) = acceptor(&pem(&cert, &key)).unwrap();
        let before = certs.current.read().unwrap().clone();
        let (other_cert, other_key) = generate();
        let mismatched = certs.replace(&pem(&other_cert, &key));
        assert!(
            matches!(mismatched, Err(Error::TlsConfig(_))),
            "{mismatched:?}"
        );
        let garbled = certs.replace(&pem(b"not a pem", &key));
        assert!(
            matches!(garbled, Err(Error::TlsCertificate { .. })),
            "{garbled:?}"
        );
        assert!(Arc::ptr_eq(&before, &certs.current.read().unwrap()));

        certs.replace(&pem(&other_cert, &other_key)).unwrap();
        let served = certs.current.read().unwrap().cert[0].clone();
        let wanted = CertificateDer::from_pem_slice(&other_cert).unwrap();
        assert_eq!(served.as_ref(), wanted.as_ref());
    }
}
