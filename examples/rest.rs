//! A JSON item store: the router, JSON bodies, a shared `gmp::sync::Mutex`, static files
//! and request logging, in one small service.
//!
//! `cargo run --release --features json --example rest -- [ADDR] [STATIC_DIR]`
//! (default 127.0.0.1:8080 and ./public). Ctrl-C (or SIGTERM) shuts it down gracefully.
//!
//! ```sh
//! curl -s localhost:8080/items -d '{"name":"bolt","qty":3}' -H 'content-type: application/json'
//! curl -s localhost:8080/items/1
//! curl -s -X PUT localhost:8080/items/1 -d '{"name":"bolt","qty":4}' -H 'content-type: application/json'
//! curl -s localhost:8080/items
//! curl -s -X DELETE localhost:8080/items/1 -i
//! ```

use gmp::http::{log_requests, FileServer, Request, Response, Router, Server};
use gmp::sync::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

mod common;

/// What a client sends.
#[derive(Deserialize)]
struct NewItem {
    name: String,
    qty: u32,
}

/// What the store keeps and answers with.
#[derive(Serialize, Clone)]
struct Item {
    id: u64,
    name: String,
    qty: u32,
}

#[derive(Default)]
struct Store {
    next: u64,
    items: BTreeMap<u64, Item>,
}

type Shared = Arc<Mutex<Store>>;

/// `{id}` as a number, or a 404 answered.
fn id(req: &Request<'_>, res: &mut Response<'_>) -> Option<u64> {
    let id = req.param("id").and_then(|v| v.parse().ok());
    if id.is_none() {
        res.status(404).body("no such item\n");
    }
    id
}

fn app(store: Shared, static_dir: &str) -> Router {
    let mut app = Router::new();
    let s = store.clone();
    app.handle("GET /items", move |_req, res| {
        let items: Vec<Item> = s.lock().items.values().cloned().collect();
        res.json(&items)?;
        Ok(())
    });
    let s = store.clone();
    app.handle("POST /items", move |req, res| {
        let new: NewItem = req.json()?; // 415, 413 or 400 for the client if it fails
        let item = {
            let mut st = s.lock();
            st.next += 1;
            let item = Item {
                id: st.next,
                name: new.name,
                qty: new.qty,
            };
            st.items.insert(item.id, item.clone());
            item
        };
        res.status(201)
            .header("location", &format!("/items/{}", item.id))
            .json(&item)?;
        Ok(())
    });
    let s = store.clone();
    app.handle("GET /items/{id}", move |req, res| {
        let Some(id) = id(req, res) else {
            return Ok(());
        };
        match s.lock().items.get(&id) {
            Some(item) => res.json(item).map(drop),
            None => {
                res.status(404).body("no such item\n");
                Ok(())
            }
        }
    });
    let s = store.clone();
    app.handle("PUT /items/{id}", move |req, res| {
        let Some(id) = id(req, res) else {
            return Ok(());
        };
        let new: NewItem = req.json()?;
        let item = Item {
            id,
            name: new.name,
            qty: new.qty,
        };
        s.lock().items.insert(id, item.clone());
        res.json(&item)?;
        Ok(())
    });
    let s = store;
    app.handle("DELETE /items/{id}", move |req, res| {
        let Some(id) = id(req, res) else {
            return Ok(());
        };
        match s.lock().items.remove(&id) {
            Some(_) => res.status(204),
            None => res.status(404).body("no such item\n"),
        };
        Ok(())
    });
    app.mount(
        "/static/",
        FileServer::new(static_dir).strip_prefix("/static/"),
    );
    app.handle("GET /{$}", |_req, res| {
        res.header("content-type", "text/plain; charset=utf-8");
        res.body("items: GET/POST /items, GET/PUT/DELETE /items/{id}; files under /static/\n");
        Ok(())
    });
    app.with(log_requests)
}

fn main() -> io::Result<()> {
    let addr = common::setup("127.0.0.1:8080");
    let static_dir = std::env::args().nth(2).unwrap_or_else(|| "./public".into());
    let server = Server::bind(addr.as_str())?;
    println!("rest: listening on http://{}", server.local_addr()?);
    server
        .shutdown_on_signals()
        .serve_handler(app(Shared::default(), &static_dir))?;
    println!("rest: shut down");
    Ok(())
}
