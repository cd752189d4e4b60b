//! Peer: hyper 1.x HTTP/1.1 "Hello, World!" over TLS, hyper-hello's answer behind
//! tokio-rustls: rustls with the ring provider (what gmp's `tls` feature uses), ALPN
//! http/1.1, TCP_NODELAY. No session tickets beyond rustls's defaults, as in gmp.
//! usage: hyper-tls-hello ADDR CERT.pem KEY.pem
use bytes::Bytes;
use http_body_util::Full;
use hyper::{server::conn::http1, service::service_fn, Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use std::convert::Infallible;
use std::sync::Arc;

async fn hello(_: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut r = Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
    r.headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    r.headers_mut().insert("server", "hyper".parse().unwrap());
    Ok(r)
}

fn config(cert: &str, key: &str) -> rustls::ServerConfig {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .unwrap_or_else(|e| panic!("hyper-tls-hello: {cert}: {e}"));
    let key =
        PrivateKeyDer::from_pem_file(key).unwrap_or_else(|e| panic!("hyper-tls-hello: {key}: {e}"));
    #[allow(deprecated)] // ring's provider: see gmp_net::tls::ring_provider
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    cfg
}

#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 4 {
        eprintln!("usage: hyper-tls-hello ADDR CERT.pem KEY.pem");
        std::process::exit(2);
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config(&a[2], &a[3])));
    let ln = tokio::net::TcpListener::bind(&a[1]).await.unwrap();
    loop {
        let (s, _) = ln.accept().await.unwrap();
        let _ = s.set_nodelay(true);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(s).await else {
                return;
            };
            let _ = http1::Builder::new()
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(tls), service_fn(hello))
                .await;
        });
    }
}
