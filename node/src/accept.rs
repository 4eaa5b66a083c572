//! The listener the rendezvous and web servers share: binding, and the accept loop (one
//! task per connection up to a limit, a fixed refusal over it, accept errors logged and
//! retried).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// A bound TCP listener and the address it is bound to.
#[derive(Debug)]
pub(crate) struct Listener {
    listener: TcpListener,
    local_addr: SocketAddr,
}

impl Listener {
    /// Binds `addr`.
    pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(Listener {
            listener,
            local_addr,
        })
    }

    /// The address actually bound (with the port chosen when asked for port 0).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

/// Accepts on `listener` until `shutdown` completes, then drops the listener and returns
/// the connection tasks still running.
///
/// While fewer than `max_connections` (at least 1) tasks run, each connection is handed
/// to `serve` and the future it returns runs in a task of its own; a connection over the
/// limit is sent `busy` (without waiting for the client) and dropped. Finished tasks are
/// reaped as they end, and one that failed is logged. Nothing a client does ends this
/// future; accept errors (such as running out of file descriptors) are logged and retried.
/// `name` heads the log lines.
pub(crate) async fn accept_until<F>(
    name: &'static str,
    listener: Listener,
    max_connections: usize,
    busy: &[u8],
    shutdown: impl Future<Output = ()>,
    mut serve: impl FnMut(TcpStream, SocketAddr) -> F,
) -> JoinSet<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(
        max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done {
                    tracing::error!("{name}: connection task failed: {e}");
                }
            }
            accepted = listener.listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        tracing::debug!(%peer, "{name}: connection limit reached; refusing");
                        drop(stream.try_write(busy));
                        continue;
                    };
                    let connection = serve(stream, peer);
                    tasks.spawn(async move {
                        connection.await;
                        drop(slot);
                    });
                }
                Err(e) => {
                    tracing::warn!("{name}: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    tasks
}
