//! The client side of the gRPC API: which server (address, context, CA),
//! one channel with tusk's own TCP+TLS connector, the `authn-token`
//! metadata, and the translation of failures into a cause and a fix.
//!
//! TLS is rustls on aws-lc-rs with the OS trust store plus the context's
//! (or `--ca-cert`'s) CA, for gRPC and HTTP alike. The connector does the
//! TCP and TLS steps itself so that a failure can be told apart: nothing
//! listening, TLS spoken to a plain-text port, plain text to a TLS port,
//! or a certificate that is not trusted.

use crate::error::{Failure, Outcome, chain};
use crate::pach_config::{self, ConfigFile};
use base64::Engine;
use clap::Args;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};
use tusk_core::wire_text;
use tusk_proto::auth_v2::api_client::ApiClient as AuthClient;
use tusk_proto::identity_v2::api_client::ApiClient as IdentityClient;
use tusk_proto::tusk::audit::v1::audit_client::AuditClient;
use tusk_proto::tusk::consent::v1::consent_client::ConsentClient;
use tusk_proto::tusk::resources::v1::resources_client::ResourcesClient;

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an ordinary call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The SDK's receive limit.
const MAX_MESSAGE: usize = 20 * 1024 * 1024;

/// Which server to talk to; shared by every client command.
#[derive(Args, Clone, Debug, Default)]
pub struct ClientArgs {
    /// The server: grpc://HOST:PORT (plain text) or grpcs://HOST:PORT (TLS). Overrides the context's address.
    #[arg(long, global = true, value_name = "ADDRESS", env = "TUSK_ADDRESS")]
    pub address: Option<String>,
    /// PEM file of the CA that signed the server's certificate (else the context's, else the system's).
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Use this context of the config file instead of the active one.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Send the token held in this file (its first line) instead of the context's session, e.g. a mounted Kubernetes Secret's `root-token`. A file, not a value, so the token never shows in `ps` or `kubectl describe`.
    #[arg(long, global = true, value_name = "FILE", env = "TUSK_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

/// A server address: `grpc://host:port` or `grpcs://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "grpcs" } else { "grpc" };
        write!(f, "{scheme}://{}", self.authority())
    }
}

impl Address {
    /// Accepts what pachctl and the SDK accept: `grpc://`, `grpcs://`,
    /// `http://`, `https://` or no scheme (plain text); the port defaults
    /// to 30650 for grpc, 80 for http and 443 for https.
    pub fn parse(text: &str) -> Outcome<Address> {
        let t = text.trim();
        let bad = |why: &str| {
            Failure::usage(format!("address `{text}` is not valid: {why}")).help(
                "write grpc://HOST:PORT for plain text or grpcs://HOST:PORT for TLS, e.g. grpc://127.0.0.1:30650",
            )
        };
        let (scheme, rest) = match t.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None => ("grpc".to_owned(), t),
        };
        let (tls, default_port) = match scheme.as_str() {
            "grpc" => (false, 30650),
            "grpcs" => (true, 30650),
            "http" => (false, 80),
            "https" => (true, 443),
            other => return Err(bad(&format!("unknown scheme `{other}`"))),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(bad("it has a path, query or user part"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("junk after `]`")),
            };
            (h.to_owned(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (rest.to_owned(), None),
            }
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(bad("the host is empty"));
        }
        let port = match port {
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(bad(&format!("`{p}` is not a port number"))),
            },
            None => default_port,
        };
        Ok(Address { tls, host, port })
    }

    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The same port over HTTP(S): tusk serves gRPC and HTTP on one port.
    pub fn http_base(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.authority())
    }

    fn with_tls(&self, tls: bool) -> Address {
        Address {
            tls,
            ..self.clone()
        }
    }
}

/// Everything a client command needs: the config file (to save tokens),
/// the context, the address and the credentials.
pub struct Target {
    pub file: ConfigFile,
    pub context: String,
    pub addr: Address,
    pub token: Option<String>,
    pub ca_pem: Option<Vec<u8>>,
    /// Why the context's token was not used, for the "not logged in" hint.
    pub token_withheld: Option<String>,
}

impl ClientArgs {
    /// Address: `--address` / `TUSK_ADDRESS`, else the context's, else
    /// the SDK's default. The context's token is sent only to the
    /// context's own server: a token never leaves for an address the user
    /// typed for another one.
    pub fn resolve(&self) -> Outcome<Target> {
        let file = ConfigFile::load()?;
        let name = match &self.context {
            Some(n) => {
                if file.get(n).is_none() {
                    return Err(Failure::usage(format!(
                        "no context named `{n}` in {}",
                        file.path.display()
                    ))
                    .help("`tusk context list` shows them; `tusk context create` makes one"));
                }
                n.clone()
            }
            None => file.active_name().unwrap_or_else(|| "default".to_owned()),
        };
        let ctx = file.get(&name).unwrap_or_default();
        let ctx_addr = match &ctx.pachd_address {
            Some(a) => Some(Address::parse(a).map_err(|e| {
                e.context(format!(
                    "context `{name}` in {} has pachd_address",
                    file.path.display()
                ))
            })?),
            None => None,
        };
        let addr = match &self.address {
            Some(a) if !a.trim().is_empty() => Address::parse(a)?,
            _ => match &ctx_addr {
                Some(a) => a.clone(),
                None => Address::parse(pach_config::DEFAULT_ADDRESS)?,
            },
        };
        let same_server = ctx_addr.as_ref().is_none_or(|a| *a == addr);
        let (token, token_withheld) = match ctx.session_token {
            _ if self.token_file.is_some() => (
                self.token_file
                    .as_deref()
                    .map(read_token_file)
                    .transpose()?,
                None,
            ),
            Some(t) if same_server => (Some(t), None),
            Some(_) => (
                None,
                Some(format!(
                    "the session of context `{name}` belongs to {}, not {addr}, so it was not sent",
                    ctx_addr
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                )),
            ),
            None => (None, None),
        };
        let ca_pem = match &self.ca_cert {
            Some(path) => Some(read_ca(path)?),
            None => match &ctx.server_cas {
                Some(b64) if same_server => Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64.trim())
                        .map_err(|e| {
                            Failure::usage(format!(
                                "context `{name}`: server_cas is not base64: {e}"
                            ))
                            .help("recreate the context with `tusk context create --overwrite --ca-cert FILE`")
                        })?,
                ),
                _ => None,
            },
        };
        Ok(Target {
            file,
            context: name,
            addr,
            token,
            ca_pem,
            token_withheld,
        })
    }
}

impl Target {
    /// Saves `token` as the session of this target's context, creating
    /// the context for this address if needed (and making it the active
    /// one when none is).
    pub fn save_token(&mut self, token: &str) -> Outcome {
        let name = self.context.clone();
        self.file.create(&name);
        self.file
            .set_field(&name, "pachd_address", Some(&self.addr.to_string()));
        self.file.set_field(&name, "session_token", Some(token));
        if self.file.active_name().is_none() {
            self.file.set_active(&name);
        }
        self.file.save()
    }
}

/// Reads a PEM CA file and checks it holds at least one certificate.
pub fn read_ca(path: &Path) -> Outcome<Vec<u8>> {
    let bytes =
        crate::sources::read_capped(path).map_err(|e| Failure::usage(format!("--ca-cert {e}")))?;
    let certs = pem_certs(&bytes);
    if certs.is_empty() {
        return Err(Failure::usage(format!(
            "--ca-cert {}: no PEM certificate in the file",
            path.display()
        ))
        .help("give the CA certificate (-----BEGIN CERTIFICATE-----), not a key"));
    }
    Ok(bytes)
}

/// The token in a `--token-file`: its first line, trimmed (a Kubernetes
/// Secret's file has no newline, a file written by `echo` has one).
pub fn read_token_file(path: &Path) -> Outcome<String> {
    let bytes = crate::sources::read_capped(path)
        .map_err(|e| Failure::usage(format!("--token-file {e}")))?;
    let text = String::from_utf8_lossy(&bytes);
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        return Err(Failure::usage(format!(
            "--token-file {}: the file holds no token",
            path.display()
        ))
        .help("write the token on the file's first line (tusk serve writes <data-dir>/root-token so), or leave out --token-file / TUSK_TOKEN_FILE to use the context's session"));
    }
    Ok(token.to_owned())
}

/// The base64 of a PEM CA file, as the SDK stores `server_cas`.
pub fn read_ca_base64(path: &Path) -> Outcome<String> {
    Ok(base64::engine::general_purpose::STANDARD.encode(read_ca(path)?))
}

fn pem_certs(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A verifier that remembers the chain it was shown, so a failed or
/// successful handshake can report the certificate's expiry. Without an
/// inner verifier it accepts anything: only for probing whether a port
/// speaks TLS, never for sending data.
#[derive(Debug)]
pub struct Recording {
    inner: Option<Arc<dyn ServerCertVerifier>>,
    /// Certificates the user gave with --ca-cert. A server presenting one
    /// of these exact certificates is trusted even where WebPKI refuses
    /// it: openssl's self-signed certificates are marked as CAs, which
    /// WebPKI will not accept as a server's own certificate.
    pinned: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    pub seen: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
        }
        match &self.inner {
            Some(v) => {
                match v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
                    Err(_) if self.pinned.iter().any(|p| p == end_entity) => {
                        Ok(ServerCertVerified::assertion())
                    }
                    other => other,
                }
            }
            None => Ok(ServerCertVerified::assertion()),
        }
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A verifier over the OS trust store plus `extra_pem`'s certificates;
/// `None` builds the accept-anything probe.
pub fn verifier(extra_pem: Option<&[u8]>, verify: bool) -> Outcome<Arc<Recording>> {
    let provider = provider();
    let pinned = extra_pem.map(pem_certs).unwrap_or_default();
    let inner: Option<Arc<dyn ServerCertVerifier>> = if verify {
        let extra = pinned.clone();
        let v = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .map_err(|e| {
            Failure::run(format!(
                "cannot load the system's trusted certificates: {e}"
            ))
            .help("install the ca-certificates package, or pass --ca-cert FILE")
        })?;
        Some(Arc::new(v))
    } else {
        None
    };
    Ok(Arc::new(Recording {
        inner,
        pinned,
        provider,
        seen: Mutex::new(Vec::new()),
    }))
}

/// A rustls client config on aws-lc-rs with the given verifier and ALPN.
pub fn tls_config(verifier: Arc<Recording>, alpn: &[&[u8]]) -> Outcome<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::run(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// An HTTP client for the provider and `/readyz`: our TLS, no redirects
/// (OAuth back-channel calls must not follow them), a timeout.
pub fn http_client(ca_pem: Option<&[u8]>) -> Outcome<reqwest::Client> {
    let config = tls_config(verifier(ca_pem, true)?, &[b"http/1.1"])?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("tusk-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Failure::run(format!("cannot build the HTTP client: {}", chain(&e))))
}

/// `GET /readyz` on the target's server, with the session token as a
/// bearer token when there is one: a server that is not on this host shows
/// its detail (issuer, connectors) only to an administrator's token.
pub fn readyz(http: &reqwest::Client, target: &Target) -> reqwest::RequestBuilder {
    let request = http.get(format!("{}/readyz", target.addr.http_base()));
    match &target.token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// The body of the target's `/readyz`, or `None` when it cannot be read:
/// callers use it for optional detail (the issuer, connector health).
pub async fn readyz_json(target: &Target) -> Option<serde_json::Value> {
    let http = http_client(target.ca_pem.as_deref()).ok()?;
    readyz(&http, target).send().await.ok()?.json().await.ok()
}

/// One unary call: the response message, or the failure `Conn::fail`
/// explains, returned from the enclosing function.
macro_rules! call {
    ($conn:expr, $svc:ident, $method:ident, $rpc:literal, $msg:expr) => {
        match $conn.$svc().$method($conn.request($msg)?).await {
            Ok(r) => r.into_inner(),
            Err(s) => return Err($conn.fail($rpc, s).await),
        }
    };
}
pub(crate) use call;

/// What went wrong below HTTP/2, as seen by the connector.
#[derive(Debug, Clone)]
enum ConnectProblem {
    Tcp(String),
    Tls {
        plain_text: bool,
        untrusted: bool,
        detail: String,
    },
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

async fn tcp(addr: &Address) -> std::io::Result<TcpStream> {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr.authority())).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "no answer within {} s (a firewall, or the wrong host?)",
                CONNECT_TIMEOUT.as_secs()
            ),
        )),
    }
}

fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// A TLS handshake to `addr`; the error keeps rustls' own error.
pub async fn tls_handshake(
    addr: &Address,
    config: Arc<ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let stream = tcp(addr).await?;
    let name = ServerName::try_from(addr.host.clone())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, stream)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the TLS handshake got no answer (the port may speak plain text and wait for a request)",
        )),
    }
}

/// Whether `addr` answers a TLS handshake at all (any certificate).
pub async fn speaks_tls(addr: &Address) -> bool {
    let Ok(probe) = verifier(None, false) else {
        return false;
    };
    let Ok(config) = tls_config(probe, &[b"h2", b"http/1.1"]) else {
        return false;
    };
    tls_handshake(addr, Arc::new(config)).await.is_ok()
}

/// A connection to one server, ready for any service.
pub struct Conn {
    pub addr: Address,
    channel: Channel,
    token: Option<String>,
    token_withheld: Option<String>,
    problem: Arc<Mutex<Option<ConnectProblem>>>,
}

impl Conn {
    pub fn new(target: &Target) -> Outcome<Conn> {
        let addr = target.addr.clone();
        let tls = if addr.tls {
            Some(Arc::new(tls_config(
                verifier(target.ca_pem.as_deref(), true)?,
                &[b"h2"],
            )?))
        } else {
            None
        };
        let problem: Arc<Mutex<Option<ConnectProblem>>> = Arc::new(Mutex::new(None));
        let (a, p) = (addr.clone(), problem.clone());
        let connector = tower::service_fn(move |_: http::Uri| {
            let (addr, tls, problem) = (a.clone(), tls.clone(), p.clone());
            async move {
                let remember = |what: ConnectProblem| {
                    if let Ok(mut slot) = problem.lock() {
                        *slot = Some(what);
                    }
                };
                let io: Box<dyn Io> = match tls {
                    None => match tcp(&addr).await {
                        Ok(s) => Box::new(s),
                        Err(e) => {
                            remember(ConnectProblem::Tcp(e.to_string()));
                            return Err(e);
                        }
                    },
                    Some(config) => match tls_handshake(&addr, config).await {
                        Ok(s) => Box::new(s),
                        Err(e) => {
                            remember(match rustls_error(&e) {
                                Some(r) => ConnectProblem::Tls {
                                    plain_text: matches!(r, rustls::Error::InvalidMessage(_)),
                                    untrusted: matches!(r, rustls::Error::InvalidCertificate(_)),
                                    detail: r.to_string(),
                                },
                                None if e.kind() == std::io::ErrorKind::TimedOut
                                    || e.kind() == std::io::ErrorKind::UnexpectedEof =>
                                {
                                    ConnectProblem::Tls {
                                        plain_text: true,
                                        untrusted: false,
                                        detail: e.to_string(),
                                    }
                                }
                                None => ConnectProblem::Tcp(e.to_string()),
                            });
                            return Err(e);
                        }
                    },
                };
                Ok::<_, std::io::Error>(TokioIo::new(io))
            }
        });
        let endpoint = Endpoint::from_shared(format!("http://{}", addr.authority()))
            .map_err(|e| Failure::usage(format!("address {addr} is not valid: {e}")))?
            .user_agent(concat!("tusk-cli/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| Failure::run(format!("cannot set the user agent: {e}")))?;
        let channel = endpoint.connect_with_connector_lazy(connector);
        Ok(Conn {
            addr,
            channel,
            token: target.token.clone(),
            token_withheld: target.token_withheld.clone(),
            problem,
        })
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    pub fn auth(&self) -> AuthClient<Channel> {
        AuthClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE)
    }

    pub fn identity(&self) -> IdentityClient<Channel> {
        IdentityClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE)
    }

    pub fn enterprise(&self) -> tusk_proto::enterprise_v2::api_client::ApiClient<Channel> {
        tusk_proto::enterprise_v2::api_client::ApiClient::new(self.channel.clone())
    }

    pub fn license(&self) -> tusk_proto::license_v2::api_client::ApiClient<Channel> {
        tusk_proto::license_v2::api_client::ApiClient::new(self.channel.clone())
    }

    pub fn version(&self) -> tusk_proto::versionpb_v2::api_client::ApiClient<Channel> {
        tusk_proto::versionpb_v2::api_client::ApiClient::new(self.channel.clone())
    }

    pub fn resources(&self) -> ResourcesClient<Channel> {
        ResourcesClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE)
    }

    pub fn sessions(
        &self,
    ) -> tusk_proto::tusk::sessions::v1::sessions_client::SessionsClient<Channel> {
        tusk_proto::tusk::sessions::v1::sessions_client::SessionsClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
    }

    pub fn audit(&self) -> AuditClient<Channel> {
        AuditClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE)
    }

    pub fn consent(&self) -> ConsentClient<Channel> {
        ConsentClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE)
    }

    /// A request carrying the session token (if any) and a timeout.
    pub fn request<T>(&self, message: T) -> Outcome<Request<T>> {
        self.request_with(message, self.token.as_deref(), Some(CALL_TIMEOUT))
    }

    pub fn request_with<T>(
        &self,
        message: T,
        token: Option<&str>,
        timeout: Option<Duration>,
    ) -> Outcome<Request<T>> {
        let mut req = Request::new(message);
        if let Some(t) = token {
            let value = t.parse().map_err(|_| {
                Failure::usage("the session token is not printable ASCII text; it cannot be sent")
                    .help("log in again with `tusk auth login`, or store a valid token with `tusk auth use-auth-token`")
            })?;
            req.metadata_mut().insert("authn-token", value);
        }
        if let Some(t) = timeout {
            req.set_timeout(t);
        }
        Ok(req)
    }

    /// Turns a failed call into a message with its cause and fix.
    pub async fn fail(&self, rpc: &str, status: Status) -> Failure {
        // A status made here from a transport error has a source; one the
        // server sent does not.
        if std::error::Error::source(&status).is_some()
            || (status.code() == tonic::Code::Unavailable && status.metadata().is_empty())
        {
            return self.diagnose(rpc, &status).await;
        }
        let msg = status.message().to_owned();
        let has = |s: &str| msg.contains(s);
        let head = format!("{rpc} on {}: {msg}", self.addr);
        use tonic::Code;
        match status.code() {
            _ if has(wire_text::NOT_ACTIVATED) => Failure::run(head).help(
                "activate auth with `tusk auth activate` (or deploy with pachd.activateAuth: true)",
            ),
            _ if has(wire_text::NO_TOKEN) || has(wire_text::NO_METADATA) => {
                let why = self
                    .token_withheld
                    .clone()
                    .map_or_else(String::new, |w| format!("{w}; "));
                Failure::run(head).help(format!(
                    "{why}log in with `tusk auth login`, or store a robot or root token with `tusk auth use-auth-token`"
                ))
            }
            _ if has(wire_text::BAD_TOKEN) || has(wire_text::EXPIRED_TOKEN) => {
                Failure::run(format!(
                    "{rpc} on {}: the session token was refused: {msg}",
                    self.addr
                ))
                .help("the session expired or was revoked: log in again with `tusk auth login`")
            }
            _ if has(wire_text::NO_ROLE_BINDING) => Failure::run(head).help(
                "register the project or repo first with `tusk resource create project|repo NAME` (PFS does this in Pachyderm)",
            ),
            _ if has(wire_text::NOT_AUTHORIZED) => {
                Failure::run(head).help(
                    "ask a cluster admin for a role that grants the missing permission; `tusk auth roles-for-permission PERMISSION` lists them",
                )
            }
            Code::DeadlineExceeded => Failure::run(format!(
                "{rpc} on {}: no answer within {} s",
                self.addr,
                CALL_TIMEOUT.as_secs()
            ))
            .help("the server may be overloaded or its store slow; `tusk doctor` checks /readyz"),
            Code::Unimplemented if has("unknown service") || msg.is_empty() => {
                Failure::run(format!(
                    "{rpc} on {}: the server does not implement this call",
                    self.addr
                ))
                .help("is --address pointing at tusk (or pachd 2.x)? `tusk doctor --address ADDRESS` checks")
            }
            _ => Failure::run(head),
        }
    }

    async fn diagnose(&self, rpc: &str, status: &Status) -> Failure {
        let problem = self.problem.lock().ok().and_then(|mut p| p.take());
        let addr = &self.addr;
        match problem {
            Some(ConnectProblem::Tcp(e)) => Failure::run(format!("cannot reach tusk at {addr}: {e}")).help(
                "is tusk running there? Start it with `tusk serve`, or point --address (or TUSK_ADDRESS, or `tusk context use`) at a running server",
            ),
            Some(ConnectProblem::Tls { plain_text: true, detail, .. }) => Failure::run(format!(
                "{addr} does not speak TLS: the server answered in plain text ({detail})"
            ))
            .help(format!("use the plain-text address {}", addr.with_tls(false))),
            Some(ConnectProblem::Tls { untrusted: true, detail, .. }) => Failure::run(format!(
                "the TLS certificate of {addr} is not trusted: {detail}"
            ))
            .help(
                "pass the CA that signed it with --ca-cert FILE, or store it in the context with `tusk context create NAME --address ADDRESS --ca-cert FILE --overwrite`",
            ),
            Some(ConnectProblem::Tls { detail, .. }) => {
                Failure::run(format!("the TLS handshake with {addr} failed: {detail}"))
                    .help("check that the address is tusk's TLS port")
            }
            None if !addr.tls && speaks_tls(addr).await => Failure::run(format!(
                "{addr} expects TLS, but the address asks for plain text"
            ))
            .help(format!(
                "use {} (with --ca-cert FILE if the certificate is self-signed)",
                addr.with_tls(true)
            )),
            None => Failure::run(format!(
                "{rpc} on {addr}: the connection failed: {}",
                chain(status)
            ))
            .help("is this a tusk (or pachd) gRPC port? `tusk doctor --address ADDRESS` checks the server"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for (text, want) in [
            ("grpc://127.0.0.1:30650", "grpc://127.0.0.1:30650"),
            ("127.0.0.1:1650", "grpc://127.0.0.1:1650"),
            ("localhost", "grpc://localhost:30650"),
            ("grpcs://pach.example.com", "grpcs://pach.example.com:30650"),
            ("https://pach.example.com/", "grpcs://pach.example.com:443"),
            ("http://pach:80", "grpc://pach:80"),
            ("grpc://[::1]:9", "grpc://[::1]:9"),
            ("GRPCS://h:1", "grpcs://h:1"),
        ] {
            let a = Address::parse(text).map(|a| a.to_string());
            assert_eq!(a.as_deref().ok(), Some(want), "{text}");
        }
        for bad in [
            "ftp://h:1",
            "grpc://h:0",
            "grpc://h:99999",
            "grpc://h:1/path",
            "grpc://:1",
            "",
            "grpc://[::1",
        ] {
            let e = Address::parse(bad);
            assert!(e.as_ref().is_err_and(|e| e.code == 2), "{bad}: {e:?}");
        }
    }
}
