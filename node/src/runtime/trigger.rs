//! The external action `TRIGGER_X`: an HTTP/1.1 POST of a JSON body to a configured
//! `http://127.0.0.1:PORT/PATH` (`quorate node --trigger-url`), carrying the proposal id
//! as `Idempotency-Key` so the receiver can deduplicate a POST resumed after a crash.
//! Plain HTTP to a local listener only; blocking with short timeouts (a loopback POST
//! takes about a millisecond; the node loop waits at most the timeouts).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Connect, write and read timeouts.
const TIMEOUT: Duration = Duration::from_secs(3);

/// A parsed `http://HOST:PORT/PATH` URL on a loopback or literal IP address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TriggerUrl {
    pub(crate) addr: SocketAddr,
    pub(crate) path: String,
}

impl std::str::FromStr for TriggerUrl {
    type Err = String;
    fn from_str(url: &str) -> Result<TriggerUrl, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?}: only http:// URLs (a local listener)"))?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let addr: SocketAddr = host
            .parse()
            .map_err(|_| format!("{url:?}: the host must be IP:PORT, e.g. 127.0.0.1:8080"))?;
        Ok(TriggerUrl {
            addr,
            path: format!("/{path}"),
        })
    }
}

/// POSTs `body` with `Idempotency-Key: key`; `Ok(status)` for a 2xx answer.
pub(crate) fn post(url: &TriggerUrl, body: &[u8], key: &str) -> Result<u16, String> {
    let mut stream = TcpStream::connect_timeout(&url.addr, TIMEOUT)
        .map_err(|e| format!("cannot connect to {}: {e}", url.addr))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nIdempotency-Key: {key}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        url.path,
        url.addr,
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .map_err(|e| format!("sending to {}: {e}", url.addr))?;
    let mut answer = [0u8; 64];
    let n = stream
        .read(&mut answer)
        .map_err(|e| format!("no answer from {}: {e}", url.addr))?;
    let line = std::str::from_utf8(answer.get(..n).unwrap_or_default()).unwrap_or_default();
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{} answered something that is not HTTP", url.addr))?;
    if (200..300).contains(&status) {
        Ok(status)
    } else {
        Err(format!("{} answered {status}", url.addr))
    }
}
