//! JSON bodies (feature `json`) and body errors: `req.json::<T>()` gives a typed value,
//! or an error the server answers with 415 (not JSON), 413 (over the body limit, a
//! chunked body included as soon as it crosses it) or 400 (serde's message);
//! `res.json(&v)` sets the type and length; a body error carries its status.

mod common;
mod http_util;

use common::Watchdog;
use gmp::http::{BodyError, Router};
use http_util::TestServer;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

#[derive(Deserialize, Serialize, Debug, PartialEq)]
struct Item {
    name: String,
    qty: u32,
}

fn app() -> Router {
    let mut r = Router::new();
    r.handle("POST /items", |req, res| {
        let item: Item = req.json()?;
        res.status(201).json(&Item {
            name: item.name.to_uppercase(),
            qty: item.qty + 1,
        })?;
        Ok(())
    });
    r.handle("POST /status", |req, res| {
        // A handler that looks at the error instead of returning it.
        let mut body = Vec::new();
        match req.body().read_to_end(&mut body) {
            Ok(n) => res.body(format!("read {n}")),
            Err(e) => {
                let b = e
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<BodyError>())
                    .expect("a BodyError inside");
                res.status(b.status())
                    .body(format!("refused: {}", b.message()))
            }
        };
        Ok(())
    });
    r.handle("POST /raw", |req, res| {
        let mut body = Vec::new();
        req.body().read_to_end(&mut body)?;
        res.body(body);
        Ok(())
    });
    r
}

fn post(s: &TestServer, path: &str, headers: &str, body: &str) -> http_util::Resp {
    let mut c = s.client();
    c.send(format!(
        "POST {path} HTTP/1.1\r\nHost: a\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    c.resp()
}

fn chunked(s: &TestServer, path: &str, headers: &str, chunks: &[String]) -> http_util::Resp {
    let mut c = s.client();
    let mut raw =
        format!("POST {path} HTTP/1.1\r\nHost: a\r\n{headers}Transfer-Encoding: chunked\r\n\r\n");
    for ch in chunks {
        raw.push_str(&format!("{:x}\r\n{ch}\r\n", ch.len()));
    }
    raw.push_str("0\r\n\r\n");
    c.send(raw);
    c.resp()
}

#[test]
fn json_in_and_out() {
    let _w = Watchdog::new("json", LIMIT);
    let s = TestServer::start_handler(|s| s, app());
    let ct = "Content-Type: application/json\r\n";
    let r = post(&s, "/items", ct, r#"{"name":"bolt","qty":41}"#);
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let back: Item = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        back,
        Item {
            name: "BOLT".into(),
            qty: 42
        }
    );
    // +json types and parameters are JSON too.
    let r = post(
        &s,
        "/items",
        "Content-Type: application/vnd.x+json; charset=utf-8\r\n",
        r#"{"name":"a","qty":1}"#,
    );
    assert_eq!(r.status, 201, "{r:?}");
    // A chunked JSON body.
    let r = chunked(
        &s,
        "/items",
        ct,
        &[r#"{"name":"#.into(), r#""c","qty":2}"#.into()],
    );
    assert_eq!(r.status, 201, "{r:?}");
    s.stop();
}

#[test]
fn json_errors_are_415_400_and_413() {
    let _w = Watchdog::new("json errors", LIMIT);
    let s = TestServer::start_handler(|s| s.max_body_bytes(64), app());
    let ct = "Content-Type: application/json\r\n";
    // Not JSON by its type, or no type at all: 415.
    for headers in ["Content-Type: text/plain\r\n", ""] {
        let r = post(&s, "/items", headers, r#"{"name":"a","qty":1}"#);
        assert_eq!(r.status, 415, "{headers:?}: {r:?}");
        assert!(r.text().contains("expected a JSON body"), "{}", r.text());
    }
    // Malformed, or the wrong shape: 400 with serde's message.
    let r = post(&s, "/items", ct, r#"{"name": "a", "qty": }"#);
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.text().contains("invalid JSON body") && r.text().contains("line 1 column"),
        "{}",
        r.text()
    );
    let r = post(&s, "/items", ct, r#"{"name": "a"}"#);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("missing field `qty`"), "{}", r.text());
    // Over the limit by its Content-Length: 413 before the handler runs.
    let big = format!(r#"{{"name":"{}","qty":1}}"#, "x".repeat(100));
    assert_eq!(post(&s, "/items", ct, &big).status, 413);
    // Chunked, crossing the limit while it is read: 413 too, and the connection closes.
    let parts: Vec<String> = (0..10).map(|_| "x".repeat(20)).collect();
    let r = chunked(&s, "/items", ct, &parts);
    assert_eq!(r.status, 413, "{r:?}");
    assert!(r.says_close());
    s.stop();
}

#[test]
fn a_body_error_carries_its_status() {
    let _w = Watchdog::new("body errors", LIMIT);
    let s = TestServer::start_handler(|s| s.max_body_bytes(64), app());
    let parts: Vec<String> = (0..10).map(|_| "y".repeat(20)).collect();
    // Returned with `?`: the server answers the body's status.
    let r = chunked(&s, "/raw", "", &parts);
    assert_eq!(r.status, 413, "{r:?}");
    // Looked at by the handler: the status is there to use.
    let r = chunked(&s, "/status", "", &parts);
    assert_eq!(r.status, 413, "{r:?}");
    assert!(
        r.text()
            .starts_with("refused: request body over the server's limit"),
        "{}",
        r.text()
    );
    let mut c = s.client();
    c.send("POST /status HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n");
    let r = c.resp();
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "refused: malformed chunk size")
    );
    s.stop();
}
