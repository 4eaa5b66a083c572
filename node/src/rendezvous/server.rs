//! The listener: accepts connections up to the limit and shuts them down on request.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::ServerConfig;
use super::connection::{Shared, serve};
use super::error::BindError;
use super::rooms::Rooms;

/// A bound rendezvous server. [`Server::run`] serves until its shutdown future completes.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: ServerConfig,
}

impl Server {
    /// Validates `config` and binds its listen address.
    ///
    /// # Errors
    /// [`BindError::Config`] for limits that cannot work together, [`BindError::Listen`]
    /// (naming the address) if the socket cannot be bound, e.g. the port is in use.
    pub async fn bind(config: ServerConfig) -> Result<Self, BindError> {
        config.validate()?;
        let addr = config.listen;
        let listen_error = |source| BindError::Listen { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(listen_error)?;
        let local_addr = listener.local_addr().map_err(listen_error)?;
        Ok(Self {
            listener,
            local_addr,
            config,
        })
    }

    /// The address actually bound (with the port chosen when asked for port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then closes every connection (close code 1001)
    /// and returns once they are gone or [`ServerConfig::shutdown_grace`] has passed.
    ///
    /// Nothing a client does ends this future; accept errors (such as running out of file
    /// descriptors) are logged and retried.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Self {
            listener,
            local_addr,
            config,
        } = self;
        let grace = config.shutdown_grace;
        let slots = Arc::new(Semaphore::new(
            config.max_connections.min(Semaphore::MAX_PERMITS),
        ));
        let shared = Arc::new(Shared {
            config,
            rooms: Mutex::new(Rooms::default()),
        });
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut next_id: u64 = 0;
        tracing::info!(%local_addr, "rendezvous server listening");
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(e) = done {
                        tracing::error!("connection task failed: {e}");
                    }
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                            refuse_busy(&stream, peer);
                            continue;
                        };
                        drop(stream.set_nodelay(true));
                        next_id = next_id.wrapping_add(1);
                        let (id, shared, stopped) = (next_id, Arc::clone(&shared), stopped.clone());
                        tasks.spawn(async move {
                            serve(stream, peer, id, shared, stopped).await;
                            drop(slot);
                        });
                    }
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        drop(listener);
        tracing::info!(connections = tasks.len(), "rendezvous server shutting down");
        stop.send_replace(true);
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} });
        if drained.await.is_err() {
            tracing::warn!(
                left = tasks.len(),
                "connections did not close in time; dropping them"
            );
            tasks.abort_all();
        }
        tracing::info!("rendezvous server stopped");
    }
}

/// Tells a client over the connection limit so, without waiting for it.
fn refuse_busy(stream: &TcpStream, peer: SocketAddr) {
    tracing::debug!(%peer, "connection limit reached; refusing");
    let busy =
        b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    drop(stream.try_write(busy));
}
