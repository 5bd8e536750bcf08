//! `tusk-proof bare-http`: the transport's own limit, for
//! `scripts/bench-oidc`'s baseline rows. The same hyper connection builder
//! (HTTP/1 and HTTP/2, auto-detected) on the same tokio runtime as tusk's
//! accept loop, answering every request with one fixed JSON body and no
//! routing, middleware or logging: what tusk's discovery and JWKS answers
//! cost beyond this is what its own stack adds.

use anyhow::Context;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;

/// About the size of tusk's JWKS with one ES256 key, so the bytes on the
/// wire are comparable.
const BODY: &[u8] = br#"{"keys":[{"kty":"EC","crv":"P-256","use":"sig","alg":"ES256","kid":"bare-http-0000000000000000000000","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}"#;

/// Serves until killed; prints `listening: http://ADDR` once bound.
pub async fn run(listen: &str) -> anyhow::Result<bool> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}; pick a free address with --listen"))?;
    let addr = listener.local_addr()?;
    println!("listening: http://{addr}");
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    let body = Bytes::from_static(BODY);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            // A connection that failed before we took it; keep serving.
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        let (builder, body) = (builder.clone(), body.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_: Request<Incoming>| {
                let mut r = Response::new(Full::new(body.clone()));
                r.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("application/json"),
                );
                async move { Ok::<_, Infallible>(r) }
            });
            // A client that goes away mid-request is not our concern here.
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
