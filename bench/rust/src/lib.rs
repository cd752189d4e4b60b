//! What the peer programs share: the command line and the report of the HTTP client
//! load generators (reqwest-load, ureq-load), which match examples/http-load.rs in gmp's
//! workspace and bench/go/client-load, for scripts/client-compare.sh; the WebSocket
//! client frames of ws-load and conn-hold's ws mode; and the Rust floors' epoll loop.

pub mod floor;
pub mod load;
pub mod ws;
