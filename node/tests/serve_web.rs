//! `--serve-web`: `quorate node` and `quorate rendezvous` serving the browser page, its
//! wasm and `/config.json` from a web directory (a fake one here, so these tests do not
//! depend on the wasm build); refusals for everything else; garbage that does not hurt
//! the node; and clear errors when the build is missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::process::{Proc, quorate, status, stderr};
use quorate_node::web::{PageConfig, WebConfig, WebServer};

const PAGE: &[u8] =
    b"<!doctype html><title>fake page</title><script type=module src=app.js></script>";

/// A fake wasm module: the magic number, then enough bytes to take several writes.
fn wasm() -> Vec<u8> {
    let mut w = b"\0asm\x01\0\0\0".to_vec();
    w.extend((0..300_000u32).map(|i| (i % 251) as u8));
    w
}

/// `ROOT/web` laid out as `scripts/build-web` leaves it, plus things that must not be
/// served: `web/Cargo.toml`, `web/www/.hidden`, `ROOT/secret.txt` and a symbolic link
/// to it from `www/`.
fn fake_web(root: &Path) -> PathBuf {
    let web = root.join("web");
    std::fs::create_dir_all(web.join("www")).unwrap();
    std::fs::create_dir_all(web.join("pkg")).unwrap();
    std::fs::write(web.join("www/index.html"), PAGE).unwrap();
    std::fs::write(
        web.join("www/app.js"),
        b"import init from '../pkg/quorate_web.js';",
    )
    .unwrap();
    std::fs::write(web.join("www/.hidden"), b"hidden").unwrap();
    std::fs::write(
        web.join("pkg/quorate_web.js"),
        b"export default function init() {}",
    )
    .unwrap();
    std::fs::write(web.join("pkg/quorate_web_bg.wasm"), wasm()).unwrap();
    std::fs::write(web.join("Cargo.toml"), b"[package]").unwrap();
    std::fs::write(root.join("secret.txt"), b"secret").unwrap();
    std::os::unix::fs::symlink(root.join("secret.txt"), web.join("www/escape.txt")).unwrap();
    web
}

/// A temporary directory holding a fake web directory ([`fake_web`]).
struct Site {
    dir: tempfile::TempDir,
    web: PathBuf,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let web = fake_web(dir.path());
        Site { dir, web }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn web_dir(&self) -> &str {
        self.web.to_str().unwrap()
    }

    /// Starts `quorate ARGS`, logging to `NAME.log` in the directory.
    fn start(&self, name: &str, args: &[&str]) -> Proc {
        Proc::start(self.dir.path(), name, args)
    }

    /// Starts `quorate node --data DIR/NAME --serve-web 127.0.0.1:0 --web-dir WEB EXTRA`.
    fn node(&self, name: &str, extra: &[&str]) -> Proc {
        let data = self.path(name);
        let args = [&serve_node(&data, "127.0.0.1:0", self.web_dir())[..], extra].concat();
        self.start(name, &args)
    }
}

/// `node --data DATA --serve-web LISTEN --web-dir WEB`.
fn serve_node<'a>(data: &'a Path, listen: &'a str, web: &'a str) -> [&'a str; 7] {
    let data = data.to_str().unwrap();
    [
        "node",
        "--data",
        data,
        "--serve-web",
        listen,
        "--web-dir",
        web,
    ]
}

/// `rendezvous --listen 127.0.0.1:0 --serve-web 127.0.0.1:0 --web-dir WEB`.
fn serve_rendezvous(web: &str) -> [&str; 7] {
    let listen = "127.0.0.1:0";
    [
        "rendezvous",
        "--listen",
        listen,
        "--serve-web",
        listen,
        "--web-dir",
        web,
    ]
}

/// A parsed HTTP response.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `request` as is, closes the sending side, and reads the response until the
/// server closes.
fn raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.write_all(request)?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out)?;
    Ok(out)
}

fn parse(bytes: &[u8]) -> Reply {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(bytes)));
    let head = std::str::from_utf8(&bytes[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect();
    Reply {
        status,
        headers,
        body: bytes[end + 4..].to_vec(),
    }
}

fn request(addr: SocketAddr, method: &str, path: &str) -> Reply {
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: test\r\n\r\n");
    let reply = parse(&raw(addr, req.as_bytes()).unwrap());
    if method == "GET" {
        let len: usize = reply.header("content-length").unwrap().parse().unwrap();
        assert_eq!(len, reply.body.len(), "{method} {path}");
    }
    reply
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path)
}

/// `/config.json` as JSON.
fn page_config(addr: SocketAddr) -> serde_json::Value {
    serde_json::from_slice(&get(addr, "/config.json").body).unwrap()
}

#[test]
fn a_node_serves_the_page_its_wasm_and_its_config() {
    let site = Site::new();
    let server = site.start("rendezvous", &["rendezvous", "--listen", "127.0.0.1:0"]);
    let url = format!("ws://{}", server.after("on"));
    let node = site.node("n1", &["--rendezvous", &url, "--room", "web-test"]);
    let addr = node.web();
    assert!(addr.ip().is_loopback());

    let root = get(addr, "/");
    assert_eq!(root.status, 302);
    assert_eq!(root.header("location"), Some("/www/index.html"));

    let page = get(addr, "/www/index.html");
    assert_eq!(page.status, 200, "{}", node.logs());
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    assert_eq!(page.header("connection"), Some("close"));
    assert_eq!(page.body, PAGE);

    let wasm_reply = get(addr, "/pkg/quorate_web_bg.wasm?v=1");
    assert_eq!(wasm_reply.status, 200);
    assert_eq!(wasm_reply.header("content-type"), Some("application/wasm"));
    assert_eq!(wasm_reply.body, wasm());
    let js = get(addr, "/pkg/quorate_web.js");
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(get(addr, "/www/app.js").status, 200);

    let head = request(addr, "HEAD", "/pkg/quorate_web_bg.wasm");
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(&*wasm().len().to_string())
    );
    assert!(head.body.is_empty());

    let config = get(addr, "/config.json");
    assert_eq!(config.status, 200);
    assert_eq!(config.header("content-type"), Some("application/json"));
    let config: serde_json::Value = serde_json::from_slice(&config.body).unwrap();
    let id = node.after("node");
    assert_eq!(
        config,
        serde_json::json!({"rendezvous": url, "room": "web-test", "node": id})
    );

    assert_eq!(get(addr, "/www/missing.js").status, 404);
    let posted = request(addr, "POST", "/www/index.html");
    assert_eq!(posted.status, 405);
    assert_eq!(posted.header("allow"), Some("GET, HEAD"));

    let s = status(&site.path("n1"));
    assert_eq!(s.web, Some(format!("http://{addr}/")));
}

#[test]
fn nothing_outside_www_and_pkg_is_served() {
    let site = Site::new();
    let node = site.node("n", &[]);
    let addr = node.web();
    let config = page_config(addr);
    assert_eq!(config["rendezvous"], serde_json::Value::Null);
    assert_eq!(config["node"], node.after("node").as_str());

    let refused: [(u16, &[&str]); 2] = [
        (
            400,
            &[
                "/www/../Cargo.toml",
                "/www/../../secret.txt",
                "/www/%2e%2e/Cargo.toml",
                "/pkg/%2E%2E/%2e%2e/secret.txt",
                "/www/..%2f..%2fsecret.txt",
                "/www/..%5c..%5csecret.txt",
                "/..",
                "http://127.0.0.1/www/index.html",
                "/www/%zz",
            ],
        ),
        (
            404,
            &[
                "/Cargo.toml",
                "/secret.txt",
                "//secret.txt",
                "/www/escape.txt",
                "/www/.hidden",
                "/www/",
                "/pkg",
                "/www/index.html/",
                "/etc/passwd",
            ],
        ),
    ];
    for (code, paths) in refused {
        for path in paths {
            assert_eq!(get(addr, path).status, code, "{path}");
        }
    }
    // Nothing read from outside leaked into any answer.
    for path in ["/www/escape.txt", "/www/../../secret.txt"] {
        assert!(!get(addr, path).body.windows(6).any(|w| w == b"secret"));
    }
}

#[test]
fn garbage_and_oversized_heads_do_not_hurt_the_node() {
    let site = Site::new();
    let mut node = site.node("n", &[]);
    let addr = node.web();

    // Binary garbage, stray line ends, a bad version, NULs: each a 400 (or 505).
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for round in 0..40 {
        let len = 1 + round * 37;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed.to_le_bytes()[4]
            })
            .chain(*b"\r\n\r\n")
            .collect();
        let reply = raw(addr, &bytes).unwrap();
        assert!(reply.is_empty() || parse(&reply).status >= 400, "{reply:?}");
    }
    for bad in [
        &b"\r\n\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /www/index.html HTTP/1.1\r\nHost\0: x\r\n\r\n",
        b"\0\0\0\0\n\n",
        b"GET /www/index.html",
    ] {
        // The last one is incomplete: the client's close ends it.
        let reply = raw(addr, bad).unwrap();
        assert!(parse(&reply).status >= 400, "{bad:?}");
    }

    // A head over 8 KiB: 431, and the connection is closed.
    let mut big = b"GET /www/index.html HTTP/1.1\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 20_000));
    big.extend(b"\r\n\r\n");
    // The server drains what follows before closing, so the answer is not lost to a reset.
    assert_eq!(parse(&raw(addr, &big).unwrap()).status, 431);

    // More connections at once than the limit: each answered (some with 503) or closed.
    let streams: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    drop(streams);

    assert!(node.is_running(), "{}", node.logs());
    let s = status(&site.path("n"));
    assert_eq!(s.node, node.after("node"));
    assert_eq!(get(addr, "/www/index.html").body, PAGE);
    assert!(!node.logs().contains("panicked"), "{}", node.logs());
}

#[test]
fn a_missing_wasm_build_is_a_usage_error() {
    let site = Site::new();
    std::fs::remove_dir_all(site.web.join("pkg")).unwrap();
    let data = site.path("n");
    let web_dir = site.web_dir();
    let not_built: &[&str] = &["scripts/build-web", "quorate_web"];
    let cases: [(&[&str], &[&str]); 4] = [
        (&serve_node(&data, "127.0.0.1:0", web_dir), not_built),
        (&serve_rendezvous(web_dir), not_built),
        // A directory that is not web/ at all.
        (
            &serve_node(&data, "127.0.0.1:0", "/nonexistent/web"),
            &["/nonexistent/web/www/index.html", "--web-dir"],
        ),
        // --web-dir alone means nothing.
        (
            &[
                "node",
                "--data",
                data.to_str().unwrap(),
                "--web-dir",
                web_dir,
            ],
            &["--serve-web"],
        ),
    ];
    for (args, needles) in cases {
        let out = quorate(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(needles.iter().all(|n| err.contains(n)), "{err}");
        // Checked before the data directory was touched.
        assert!(!data.exists(), "{args:?}");
    }
}

#[test]
fn a_port_in_use_for_the_page_is_exit_1() {
    let site = Site::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = site.path("n");
    let out = quorate(&serve_node(&data, &addr, site.web_dir()));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot serve the web page on {addr}")),
        "{err}"
    );
    assert!(!data.join("control.sock").exists());
}

#[test]
fn the_rendezvous_server_serves_the_page_too() {
    let site = Site::new();
    let server = site.start("rendezvous", &serve_rendezvous(site.web_dir()));
    let addr = server.web();
    assert_eq!(
        page_config(addr),
        serde_json::json!({
            "rendezvous": format!("ws://{}", server.after("on")),
            "room": null,
            "node": null,
        })
    );
    assert_eq!(get(addr, "/pkg/quorate_web_bg.wasm").body, wasm());
}

/// Reads from `stream` until the server closes (within 5 s) and parses the response.
async fn read_reply(stream: &mut tokio::net::TcpStream) -> Reply {
    use tokio::io::AsyncReadExt as _;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    parse(&out)
}

/// In-process, with short limits: a client that never finishes its head gets 408, and
/// connections over the limit get 503.
#[tokio::test]
async fn slow_clients_time_out_and_excess_connections_are_refused() {
    use tokio::io::AsyncWriteExt as _;

    let site = Site::new();
    let mut config = WebConfig::new("127.0.0.1:0".parse().unwrap(), &site.web);
    config.head_timeout = Duration::from_millis(300);
    config.max_connections = 2;
    let server = WebServer::bind(config).await.unwrap();
    let addr = server.local_addr();
    let task = tokio::spawn(server.run(PageConfig::default(), std::future::pending()));

    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /www/index.html HTTP/1.1\r\nHost:")
        .await
        .unwrap();
    let idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_reply(&mut third).await.status, 503);

    for mut stream in [slow, idle] {
        assert_eq!(read_reply(&mut stream).await.status, 408);
    }

    // Both slots are free again once those clients have gone.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut ok = tokio::net::TcpStream::connect(addr).await.unwrap();
    ok.write_all(b"GET /config.json HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let reply = read_reply(&mut ok).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        br#"{"rendezvous":null,"room":null,"node":null}"#
    );
    task.abort();
}
