//! Out of file descriptors (`EMFILE`, issue 19's faults): the HTTP client's connect
//! fails at once with an error that names the host and the cause, and works again when
//! descriptors are free; an HTTPS server whose accept gets `EMFILE` backs off (as the
//! plain server does: `tests/tcp_echo.rs` pins the socket level) and serves the clients
//! that waited in the backlog once descriptors are free. Each runs in a child process
//! whose `RLIMIT_NOFILE` is lowered and used up, so no other test loses descriptors.

mod common;
mod tls_util;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Lowers the soft descriptor limit to a little above what is open, then opens
/// `/dev/null` until the kernel refuses: from here every new descriptor fails with
/// `EMFILE` until the returned files are dropped.
fn use_up_descriptors() -> Vec<std::fs::File> {
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct, in this child process only.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_cur.min(open + 64);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
    let mut held = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => held.push(f),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                break;
            }
        }
        assert!(held.len() < 100_000, "the descriptor limit does not bind");
    }
    held
}

#[test]
fn the_client_fails_fast_out_of_descriptors_and_recovers() {
    if common::child_mode().as_deref() == Some("client") {
        gmp::run(|| {
            let l = gmp::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let server = gmp::spawn(move || {
                let (mut c, _) = l.accept().unwrap();
                let mut buf = [0u8; 1024];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = std::io::Read::read(&mut c, &mut buf).unwrap();
                    assert!(n > 0, "client closed early");
                    got.extend_from_slice(&buf[..n]);
                }
                std::io::Write::write_all(
                    &mut c,
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
                )
                .unwrap();
            });
            let client = gmp::http::Client::new();
            let url = format!("http://{addr}/");
            let held = use_up_descriptors();
            let t = Instant::now();
            let e = client.get(&url).map(|_| ()).unwrap_err();
            assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
            assert_eq!(
                e.raw_os_error(),
                None,
                "the error is wrapped with its context"
            );
            let msg = e.to_string();
            assert!(
                msg.contains(&addr.to_string()) && msg.contains("Too many open files"),
                "{msg}"
            );
            println!("client: {msg}");
            drop(held);
            let mut r = client.get(&url).unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.text().unwrap(), "ok");
            server.join().unwrap();
            println!("CLIENT-EMFILE-OK");
        });
        return;
    }
    let out = common::run_child(
        "the_client_fails_fast_out_of_descriptors_and_recovers",
        "client",
        &[],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success() && out.stdout.contains("CLIENT-EMFILE-OK"),
        "{}",
        out.describe()
    );
}

/// The child serves HTTPS with its descriptors used up for `FULL_FOR`; the parent's
/// clients connect meanwhile (the kernel queues them in the backlog) and must all be
/// answered once the child frees its descriptors.
const FULL_FOR: Duration = Duration::from_millis(800);
const CLIENTS: usize = 8;

#[test]
fn the_tls_server_backs_off_out_of_descriptors_and_serves_the_backlog() {
    if common::child_mode().as_deref() == Some("tls-server") {
        tracing_subscriber::fmt()
            .with_env_filter("gmp_http=warn")
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .init();
        let pem_dir = std::env::var("GMP_TEST_PKI").unwrap();
        let cert = std::fs::read_to_string(format!("{pem_dir}/cert.pem")).unwrap();
        let key = std::fs::read_to_string(format!("{pem_dir}/key.pem")).unwrap();
        let cfg = tls_util::Pki {
            dir: std::env::temp_dir().join("unused-gmp-pki"),
            ca_pem: String::new(),
            cert_pem: cert,
            key_pem: key,
        }
        .server_config();
        let server = gmp::http::Server::bind("127.0.0.1:0").unwrap().tls(cfg);
        let port = server.local_addr().unwrap().port();
        let stop = server.shutdown_handle();
        gmp::run(move || {
            let held = use_up_descriptors();
            println!("PORT {port}");
            let _ = std::io::Write::flush(&mut std::io::stdout());
            gmp::spawn(move || {
                gmp::sleep(FULL_FOR);
                drop(held);
                println!("FREED");
                // The parent ends the child by closing stdin.
                let _ = gmp::blocking(|| std::io::stdin().read_line(&mut String::new()));
                stop.shutdown();
            });
            server
                .serve(|_req, res| {
                    res.body("over tls");
                    Ok(())
                })
                .unwrap();
        });
        println!("TLS-EMFILE-OK");
        return;
    }
    let p = tls_util::pki("emfile", &["localhost"]);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_tls_server_backs_off_out_of_descriptors_and_serves_the_backlog",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(common::CHILD_ENV, "tls-server")
        .env("GMP_TEST_PKI", &p.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _w = common::Watchdog::new("tls EMFILE", Duration::from_secs(60));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = loop {
        let l = lines.next().expect("child ended before its port").unwrap();
        // libtest may have written "test NAME ... " on the same line.
        if let Some(i) = l.find("PORT ") {
            break l[i + 5..].trim().parse().unwrap();
        }
    };
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let cfg = p.client_config();
            std::thread::spawn(move || {
                let client = gmp::http::Client::builder().tls_config(cfg).build();
                gmp::run(move || {
                    let mut r = client
                        .get(&format!("https://localhost:{port}/"))
                        .expect("an answer after the descriptors came back");
                    (r.status(), r.text().unwrap())
                })
            })
        })
        .collect();
    for c in clients {
        let (status, body) = c.join().unwrap();
        assert_eq!((status, body.as_str()), (200, "over tls"));
    }
    let waited = started.elapsed();
    drop(child.stdin.take());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        status.success() && rest.iter().any(|l| l.contains("TLS-EMFILE-OK")),
        "{status:?}\n{rest:?}\n{stderr}"
    );
    // The accept loop met EMFILE and backed off (it logs each retry).
    assert!(
        stderr.contains("accept") && stderr.contains("retrying in"),
        "no back-off logged:\n{stderr}"
    );
    println!(
        "{CLIENTS} HTTPS clients answered after {waited:?}; server log:\n{}",
        stderr.lines().take(3).collect::<Vec<_>>().join("\n")
    );
}
