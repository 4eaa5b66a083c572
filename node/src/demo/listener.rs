//! The demo's own HTTP listener on 127.0.0.1: where the executing node POSTs `TRIGGER_X`
//! (`POST /trigger`, keyed by `Idempotency-Key`), and where a browser tab asks to join the
//! demo's group (`POST /join` with `{"actor": "<hex id>"}`, answered with CORS headers so
//! the page, served from another port, may call it).
//!
//! Requests are bounded (head 16 KiB, body 64 KiB, 5 s to send them, 32 connections at
//! once); anything else gets 4xx and is forgotten.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CONNECTIONS: usize = 32;

/// A POST the listener took.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// `POST /trigger`: the action fired.
    Trigger {
        /// The `Idempotency-Key` header (the proposal id).
        key: Option<String>,
        /// The body.
        body: String,
    },
    /// `POST /join`: a tab's actor asks for an invitation.
    Join {
        /// The actor id (64 hex characters, checked).
        actor: String,
    },
}

/// The bound listener.
pub(crate) struct Listener {
    listener: TcpListener,
    addr: SocketAddr,
}

impl Listener {
    pub(crate) async fn bind() -> Result<Listener, String> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("cannot bind the demo's HTTP listener on 127.0.0.1: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        Ok(Listener { listener, addr })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until dropped (the task is aborted); every accepted POST goes to `events`.
    pub(crate) async fn run(self, events: mpsc::UnboundedSender<Event>) {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok((stream, _)) = self.listener.accept().await else {
                continue;
            };
            let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                continue; // full: the connection is dropped
            };
            let events = events.clone();
            tokio::spawn(async move {
                if let Err(e) = serve(stream, &events).await {
                    tracing::debug!("demo listener: {e}");
                }
                drop(permit);
            });
        }
    }
}

async fn serve(mut stream: TcpStream, events: &mpsc::UnboundedSender<Event>) -> Result<(), String> {
    let request = tokio::time::timeout(READ_TIMEOUT, read_request(&mut stream))
        .await
        .map_err(|_| "request too slow".to_owned())?;
    let (status, body) = match request {
        Ok(request) => answer(&request, events),
        Err(e) => (400, e),
    };
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Bad Request",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: POST, OPTIONS\r\nAccess-Control-Allow-Headers: content-type\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .and(stream.write_all(body.as_bytes()).await)
        .map_err(|e| e.to_string())?;
    stream.shutdown().await.map_err(|e| e.to_string())
}

fn answer(request: &Request, events: &mpsc::UnboundedSender<Event>) -> (u16, String) {
    match (request.method.as_str(), request.path.as_str()) {
        ("OPTIONS", _) => (204, String::new()),
        ("POST", "/trigger") => {
            let event = Event::Trigger {
                key: request.idempotency_key.clone(),
                body: String::from_utf8_lossy(&request.body).into_owned(),
            };
            drop(events.send(event));
            (200, "fired\n".to_owned())
        }
        ("POST", "/join") => match join_actor(&request.body) {
            Ok(actor) => {
                drop(events.send(Event::Join { actor }));
                (
                    202,
                    "the demo's admin invites you: accept the invitation in the page\n".to_owned(),
                )
            }
            Err(e) => (400, e),
        },
        ("POST", _) => (404, "POST /trigger or /join\n".to_owned()),
        _ => (405, "POST only\n".to_owned()),
    }
}

/// The actor id of a join request: `{"actor": "<64 hex>"}`.
pub(crate) fn join_actor(body: &[u8]) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Join {
        actor: String,
    }
    let join: Join = serde_json::from_slice(body)
        .map_err(|e| format!("expected {{\"actor\": \"<hex id>\"}}: {e}\n"))?;
    let ok = join.actor.len() == 64 && join.actor.bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(join.actor.to_ascii_lowercase())
    } else {
        Err("actor must be 64 hex characters\n".to_owned())
    }
}

/// A parsed request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) content_length: usize,
    pub(crate) body: Vec<u8>,
}

async fn read_request(stream: &mut TcpStream) -> Result<Request, String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Err("request head too large\n".to_owned());
        }
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed mid-request\n".to_owned());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    let mut request = parse_head(buf.get(..head_end).unwrap_or_default())?;
    let mut body = buf.get(head_end + 4..).unwrap_or_default().to_vec();
    while body.len() < request.content_length {
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed mid-body\n".to_owned());
        }
        body.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    body.truncate(request.content_length);
    request.body = body;
    Ok(request)
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Parses a request head (up to, not including, the blank line).
pub(crate) fn parse_head(head: &[u8]) -> Result<Request, String> {
    let text = std::str::from_utf8(head).map_err(|_| "request head is not UTF-8\n".to_owned())?;
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("malformed request line\n".to_owned());
    };
    if !version.starts_with("HTTP/1.") {
        return Err("HTTP/1.x only\n".to_owned());
    }
    let mut request = Request {
        method: method.to_owned(),
        path: path.split('?').next().unwrap_or_default().to_owned(),
        idempotency_key: None,
        content_length: 0,
        body: Vec::new(),
    };
    for header in lines {
        let Some((name, value)) = header.split_once(':') else {
            return Err("malformed header\n".to_owned());
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            request.content_length = value
                .parse()
                .ok()
                .filter(|n| *n <= MAX_BODY)
                .ok_or_else(|| format!("Content-Length must be at most {MAX_BODY}\n"))?;
        } else if name.eq_ignore_ascii_case("idempotency-key") {
            request.idempotency_key = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("chunked bodies are not accepted: send Content-Length\n".to_owned());
        }
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn a_trigger_post_head_parses() {
        let r = parse_head(
            b"POST /trigger HTTP/1.1\r\nHost: x\r\nIdempotency-Key: bafy\r\ncontent-length: 12",
        )
        .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/trigger");
        assert_eq!(r.idempotency_key.as_deref(), Some("bafy"));
        assert_eq!(r.content_length, 12);
    }

    #[test]
    fn bad_heads_are_refused() {
        for head in [
            &b"POST /trigger"[..],
            b"POST /x HTTP/2",
            b"POST /x HTTP/1.1 extra",
            b"POST /x HTTP/1.1\r\nno colon",
            b"POST /x HTTP/1.1\r\nContent-Length: 99999999",
            b"POST /x HTTP/1.1\r\nContent-Length: -1",
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked",
            b"\xff\xfe",
        ] {
            assert!(parse_head(head).is_err(), "{head:?}");
        }
    }

    #[test]
    fn join_bodies_are_checked() {
        let id = "ab".repeat(32);
        assert_eq!(
            join_actor(format!("{{\"actor\":\"{}\"}}", id.to_uppercase()).as_bytes()).unwrap(),
            id
        );
        assert!(join_actor(b"{\"actor\":\"abc\"}").is_err());
        assert!(join_actor(b"{}").is_err());
        assert!(join_actor(b"not json").is_err());
        assert!(join_actor(&[0xff; 100]).is_err());
    }
}
