//! The listening side of the control socket: one task accepting connections, one task per
//! connection reading request lines and passing them to the node's event loop.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::control::{MAX_REQUEST, Reply, Request};

/// A request waiting for the event loop, with where to send the reply.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) request: Request,
    pub(crate) reply: oneshot::Sender<Reply>,
}

/// Binds the socket at `path`, removing a stale one (the caller holds the data
/// directory's store lock, so no other node is using it).
pub(crate) fn bind(path: &Path) -> std::io::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::debug!("removed a stale control socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    UnixListener::bind(path)
}

/// Accepts connections until aborted.
pub(crate) fn spawn(listener: UnixListener, requests: mpsc::Sender<Pending>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(serve(stream, requests.clone()));
                }
                Err(e) => {
                    tracing::warn!("control socket: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
}

/// How long the event loop may take to answer a request.
fn reply_timeout(request: &Request) -> Duration {
    match request {
        Request::Get { timeout_ms, .. } | Request::Login { timeout_ms, .. } => {
            Duration::from_millis(*timeout_ms).saturating_add(Duration::from_secs(1))
        }
        Request::Offer { .. } | Request::Accept { .. } | Request::Publish { .. } => {
            Duration::from_secs(30)
        }
        _ => Duration::from_secs(10),
    }
}

async fn serve(stream: UnixStream, requests: mpsc::Sender<Pending>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let limit = u64::try_from(MAX_REQUEST).unwrap_or(u64::MAX);
    loop {
        let mut line = Vec::new();
        match (&mut reader)
            .take(limit + 1)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!("control socket: read failed: {e}");
                return;
            }
        }
        let (reply, keep_going) = if line.len() > MAX_REQUEST {
            let message = format!("request line over {MAX_REQUEST} bytes");
            (Reply::Error { message }, false)
        } else {
            match serde_json::from_slice::<Request>(&line) {
                Ok(request) => (answer(request, &requests).await, true),
                Err(e) => {
                    let message = format!("unreadable request: {e}");
                    (Reply::Error { message }, false)
                }
            }
        };
        let Ok(mut out) = serde_json::to_vec(&reply) else {
            return;
        };
        out.push(b'\n');
        if write.write_all(&out).await.is_err() || !keep_going {
            return;
        }
    }
}

async fn answer(request: Request, requests: &mpsc::Sender<Pending>) -> Reply {
    let wait = reply_timeout(&request);
    let (tx, rx) = oneshot::channel();
    let pending = Pending { request, reply: tx };
    if requests.send(pending).await.is_err() {
        let message = "the node is shutting down".to_owned();
        return Reply::Error { message };
    }
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(_)) => Reply::Error {
            message: "the node dropped the request (shutting down?)".to_owned(),
        },
        Err(_) => Reply::Error {
            message: format!("no answer within {wait:?}"),
        },
    }
}
