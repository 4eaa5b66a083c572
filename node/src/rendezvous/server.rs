//! The listener: accepts connections up to the limit and shuts them down on request.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::ServerConfig;
use super::connection::{Shared, serve};
use super::error::BindError;
use super::rooms::Rooms;
use crate::accept::{Listener, accept_until};

/// A bound rendezvous server. [`Server::run`] serves until its shutdown future completes.
#[derive(Debug)]
pub struct Server {
    listener: Listener,
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
        let listener = Listener::bind(addr)
            .await
            .map_err(|source| BindError::Listen { addr, source })?;
        Ok(Self { listener, config })
    }

    /// The address actually bound (with the port chosen when asked for port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then closes every connection (close code 1001)
    /// and returns once they are gone or [`ServerConfig::shutdown_grace`] has passed.
    ///
    /// Nothing a client does ends this future; accept errors (such as running out of file
    /// descriptors) are logged and retried.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Self { listener, config } = self;
        let grace = config.shutdown_grace;
        let max_connections = config.max_connections;
        let shared = Arc::new(Shared {
            config,
            rooms: Mutex::new(Rooms::default()),
        });
        let (stop, stopped) = watch::channel(false);
        let mut next_id: u64 = 0;
        let local_addr = listener.local_addr();
        tracing::info!(%local_addr, "rendezvous server listening");
        let mut tasks = accept_until(
            "rendezvous",
            listener,
            max_connections,
            BUSY,
            shutdown,
            |stream, peer| {
                drop(stream.set_nodelay(true));
                next_id = next_id.wrapping_add(1);
                serve(stream, peer, next_id, Arc::clone(&shared), stopped.clone())
            },
        )
        .await;
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

/// The answer to a client over the connection limit.
const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
