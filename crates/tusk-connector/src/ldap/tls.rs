//! The rustls client config of an `ldap` connector: aws-lc-rs (the only
//! provider in the tree), the system roots or `rootCA`/`rootCAData` (which
//! replace them, as in Dex), an optional client certificate, and
//! `insecureSkipVerify` as a verifier that checks handshake signatures
//! but not the chain or the name.

use super::config::{Config, RootCa};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::sync::Arc;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

async fn read(what: &str, path: &str) -> Result<Vec<u8>, String> {
    tokio::fs::read(path).await.map_err(|e| {
        format!(
            "cannot read the {what} file `{path}` ({e}); check the path and that tusk may read it"
        )
    })
}

fn certs(what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the {what} is not PEM ({e}); give a PEM file of certificates"))?;
    if certs.is_empty() {
        return Err(format!(
            "the {what} holds no certificate; give a PEM file with `-----BEGIN CERTIFICATE-----` blocks"
        ));
    }
    Ok(certs)
}

/// Builds the client config; reads `rootCA`, `clientCert` and `clientKey`.
/// Errors name the setting and the fix.
pub async fn client_config(config: &Config) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    let roots = match &config.root_ca {
        RootCa::System => None,
        RootCa::File(path) => Some(certs("rootCA", &read("rootCA", path).await?)?),
        RootCa::Data(pem) => Some(certs("rootCAData", pem)?),
    };
    let builder = if config.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipVerify(provider)))
    } else if let Some(roots) = roots {
        let mut store = RootCertStore::empty();
        for cert in roots {
            store
                .add(cert)
                .map_err(|e| format!("a rootCA certificate cannot be used as a trust anchor ({e}); give the CA's certificate"))?;
        }
        builder.with_root_certificates(store)
    } else {
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
            format!("cannot load the system's trusted certificates ({e}); install ca-certificates or set rootCA")
        })?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
    };
    let tls = match &config.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert_path, key_path)) => {
            let chain = certs("clientCert", &read("clientCert", cert_path).await?)?;
            let key_pem = read("clientKey", key_path).await?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
                format!("the clientKey file `{key_path}` holds no PEM private key ({e}); give the key of clientCert in PEM")
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                format!("clientCert and clientKey do not form a usable pair ({e}); give the key that belongs to the certificate")
            })?
        }
    };
    Ok(Arc::new(tls))
}

/// `insecureSkipVerify`: any certificate for any name, but the handshake
/// signatures are still checked so the session keys are the server's.
#[derive(Debug)]
struct SkipVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
