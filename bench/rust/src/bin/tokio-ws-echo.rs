//! Peer: tokio-tungstenite WebSocket echo server on tokio multi-thread, tungstenite's
//! default configuration; every text or binary message is sent back, at any path.
//! The connection's stream of messages is forwarded into its sink, which flushes when
//! no more input is ready (so echoes that arrived together leave in one write).
//! usage: tokio-ws-echo [ADDR]
use futures_util::{future, StreamExt, TryStreamExt};

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:8082".into());
    let ln = tokio::net::TcpListener::bind(&addr).await.unwrap();
    loop {
        let (s, _) = ln.accept().await.unwrap();
        let _ = s.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(s).await else {
                return;
            };
            let (sink, stream) = ws.split();
            let _ = stream
                .try_filter(|m| future::ready(m.is_text() || m.is_binary()))
                .forward(sink)
                .await;
        });
    }
}
