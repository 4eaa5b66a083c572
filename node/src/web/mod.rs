//! A small static file server for the browser node: the page, its wasm, and a generated
//! `/config.json`, so `quorate node --serve-web ADDR` (or `quorate rendezvous
//! --serve-web ADDR`) is all a browser needs.
//!
//! # What is served
//! The layout `scripts/build-web` produces and `web/e2e/lib.mjs` serves, from the web
//! directory (by default `web`, relative to the current directory):
//!
//! | URL | answer |
//! |---|---|
//! | `/` | `302 Found` to `/www/index.html` (the page imports `../pkg/…`, so it must live under `/www/`) |
//! | `/www/…` | files of `DIR/www` (the page, its scripts) |
//! | `/pkg/…` | files of `DIR/pkg` (`quorate_web.js`, `quorate_web_bg.wasm`: the wasm build) |
//! | `/config.json` | [`PageConfig`]: `{"rendezvous": "ws://…" or null, "room": …, "node": "<hex id>" or null}`, and `"demo"` (the join endpoint) when `quorate demo` serves it |
//!
//! Nothing else under the directory (sources, `node_modules`, `Cargo.toml`) is reachable,
//! nor hidden names (a leading `.`), directories (no listings) or symbolic links that
//! lead outside `www/` and `pkg/`. [`WebServer::bind`] refuses a directory without
//! `www/index.html` or without the wasm build in `pkg/` ([`WebError::NotBuilt`]: run
//! `scripts/build-web`).
//!
//! # HTTP
//! HTTP/1.0 and 1.1, `GET` and `HEAD` only (others get 405), one request per connection
//! (`Connection: close`). Every response has `Content-Length`, a `Content-Type` by
//! extension (`application/wasm` for `.wasm`, so `WebAssembly.instantiateStreaming`
//! works), `Cache-Control: no-cache` (a rebuilt bundle is picked up on reload) and
//! `X-Content-Type-Options: nosniff`.
//!
//! # Limits
//! Nothing a client sends stops the server or the node it runs in:
//!
//! | limit | default | past it |
//! |---|---|---|
//! | request head | 8 KiB ([`MAX_HEAD`]) | 431 |
//! | time to send the head | 10 s | 408 |
//! | time to write a response | 60 s | dropped |
//! | connections | 64 | 503 |
//! | malformed request line, header, path, percent escape; a `..` segment | — | 400 |
//!
//! The parser and the path normaliser ([`request`]) are sans-IO and proptested with
//! arbitrary bytes. There is no TLS: it binds where it is told (127.0.0.1 by default in
//! the examples); put a TLS-terminating proxy in front to serve it beyond the machine.

pub mod request;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

pub use request::{MAX_HEAD, Method, Refusal, Route};
pub use server::WebServer;

/// The wasm build's files, which must be in `DIR/pkg` (made by `scripts/build-web`).
pub const BUILD_FILES: [&str; 2] = ["quorate_web.js", "quorate_web_bg.wasm"];

/// How to serve.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebConfig {
    /// The address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The web directory: `www/` and `pkg/` are served from it.
    pub dir: PathBuf,
    /// Connections at once at most; more get 503. Default 64.
    pub max_connections: usize,
    /// The request head must arrive within this. Default 10 s.
    pub head_timeout: Duration,
    /// Writing one response must finish within this. Default 60 s.
    pub write_timeout: Duration,
}

impl WebConfig {
    /// The defaults, serving `dir` on `listen`.
    #[must_use]
    pub fn new(listen: SocketAddr, dir: impl Into<PathBuf>) -> Self {
        WebConfig {
            listen,
            dir: dir.into(),
            max_connections: 64,
            head_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(60),
        }
    }
}

/// What the page learns from `/config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct PageConfig {
    /// The rendezvous server the page should use (`ws://…`), if any.
    pub rendezvous: Option<String>,
    /// The room on it.
    pub room: Option<String>,
    /// The id (64 hex characters) of the native node serving the page, if a node serves it.
    pub node: Option<String>,
    /// `quorate demo`'s join endpoint (`http://…/join`), if the demo serves the page: a tab
    /// POSTs `{"actor": "<hex id>"}` there and the demo's admin invites that actor into the
    /// demo's group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo: Option<String>,
}

/// Why the web server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// The directory has no `www/index.html`: it is not the repository's `web/`.
    #[error(
        "{} not found: the web directory must be the repository's web/ (--web-dir, \
         default `web` relative to the current directory)",
        page.display()
    )]
    NoPage {
        /// The page path looked for.
        page: PathBuf,
    },
    /// The wasm build is missing from `DIR/pkg`.
    #[error(
        "{} not found: build the browser bundle first with `scripts/build-web`",
        missing.display()
    )]
    NotBuilt {
        /// The first missing file.
        missing: PathBuf,
    },
    /// The directory could not be read.
    #[error("web directory {}: {source}", path.display())]
    Dir {
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The address could not be bound.
    #[error("cannot serve the web page on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl WebError {
    /// Whether the user pointed at the wrong directory or has not built the bundle (a
    /// usage error), rather than the system failing.
    #[must_use]
    pub fn is_setup(&self) -> bool {
        matches!(self, WebError::NoPage { .. } | WebError::NotBuilt { .. })
    }
}
