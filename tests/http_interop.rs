//! The `http-types` feature: a request head converts to `http::request::Parts`, and a
//! response takes its status and headers from `http::response::Parts` and converts back.

mod http_util;

use http_util::TestServer;
use std::io;

#[test]
fn heads_convert_to_and_from_the_http_crate() {
    let server = TestServer::start(
        |s| s,
        |req, res| {
            let parts = req.to_http_parts().map_err(io::Error::other)?;
            assert_eq!(parts.method, http::Method::PUT);
            assert_eq!(parts.uri.path(), "/a/b");
            assert_eq!(parts.uri.query(), Some("x=1"));
            assert_eq!(parts.version, http::Version::HTTP_11);
            assert_eq!(parts.headers["x-one"], "1");
            assert_eq!(parts.headers.get_all("x-two").iter().count(), 2);

            let (theirs, ()) = http::Response::builder()
                .status(http::StatusCode::CREATED)
                .header("x-from", "http")
                .header("content-type", "text/plain")
                .body(())
                .map_err(io::Error::other)?
                .into_parts();
            res.set_http_parts(&theirs)?;
            let back = res.to_http_parts().map_err(io::Error::other)?;
            assert_eq!(back.status, http::StatusCode::CREATED);
            assert_eq!(back.headers["x-from"], "http");
            assert_eq!(back.headers["content-type"], "text/plain");

            // A Transfer-Encoding header is the server's to set: refused, not sent.
            let (te, ()) = http::Response::builder()
                .header("transfer-encoding", "gzip")
                .body(())
                .map_err(io::Error::other)?
                .into_parts();
            assert_eq!(
                res.set_http_parts(&te).unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
            res.body("made by http");
            Ok(())
        },
    );
    let mut c = server.client();
    let r = c.roundtrip(
        "PUT /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-One: 1\r\nX-Two: a\r\nX-Two: b\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.header("x-from"), Some("http"));
    assert_eq!(r.header("transfer-encoding"), None);
    assert_eq!(r.text(), "made by http");
    server.stop();
}

#[test]
fn the_client_sends_an_http_request_and_returns_an_http_response() {
    let server = TestServer::demo();
    let client = gmp::http::Client::new();
    let req = http::Request::post(format!("http://{}/echo", server.addr))
        .header("x-one", "1")
        .body("round trip")
        .unwrap();
    let res = client.send_http(req).unwrap();
    assert_eq!(res.status(), http::StatusCode::OK);
    assert_eq!(res.version(), http::Version::HTTP_11);
    assert_eq!(res.headers()["content-length"], "10");
    assert_eq!(&res.body()[..], b"round trip");
    let res = client
        .send_http(
            http::Request::get(format!("http://{}/", server.addr))
                .body("")
                .unwrap(),
        )
        .unwrap();
    assert_eq!(&res.body()[..], b"Hello, World!");
    server.stop();
}
