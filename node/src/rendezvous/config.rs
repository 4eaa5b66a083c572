//! Server limits and timeouts.

use std::net::SocketAddr;
use std::time::Duration;

use super::error::BindError;
use super::protocol::MAX_ROOM_LEN;

/// Everything the server can be told. Start from [`ServerConfig::new`] and change fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Open connections at most; further ones get HTTP 503 and are closed. Default 1,024.
    pub max_connections: usize,
    /// Members per room at most; a join past it is refused. Default 1,000.
    pub max_room_members: usize,
    /// Largest incoming WebSocket message in bytes; a larger one closes the connection
    /// (close code 1009). Default 64 KiB, which fits a full 32 KiB payload in base64.
    pub max_message_size: usize,
    /// Sustained incoming messages per second per connection (every frame counts, pings
    /// too). Default 20.
    pub messages_per_sec: u32,
    /// Messages a connection may send at once before the rate applies. Default 40.
    pub message_burst: u32,
    /// Errors a connection may cause in a burst before it is closed (close code 1008).
    /// Default 10.
    pub max_errors: u32,
    /// One error is forgiven per this interval. Default 5 s.
    pub error_forgiveness: Duration,
    /// A connection that is not in a room for this long is closed. Default 30 s.
    pub join_timeout: Duration,
    /// The WebSocket handshake must finish within this. Default 10 s.
    pub handshake_timeout: Duration,
    /// The server pings every connection this often. Default 20 s.
    pub ping_interval: Duration,
    /// A connection that sent nothing (not even a pong) for this long is closed.
    /// Default 60 s.
    pub dead_timeout: Duration,
    /// Writing one message to a client must finish within this. Default 10 s.
    pub write_timeout: Duration,
    /// Bytes queued for one client at most; a client that falls further behind is
    /// disconnected (it reconnects and gets a fresh peer list). Default 256 KiB.
    pub outbox_bytes: usize,
    /// On shutdown, connections get this long to close before they are dropped.
    /// Default 5 s.
    pub shutdown_grace: Duration,
}

/// Bytes of one node id in a `peers` list: 64 hex characters, quotes, comma.
const NODE_ENTRY: usize = 67;

impl ServerConfig {
    /// The defaults, listening on `listen`.
    #[must_use]
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            max_connections: 1024,
            max_room_members: 1000,
            max_message_size: 64 * 1024,
            messages_per_sec: 20,
            message_burst: 40,
            max_errors: 10,
            error_forgiveness: Duration::from_secs(5),
            join_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
            dead_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            outbox_bytes: 256 * 1024,
            shutdown_grace: Duration::from_secs(5),
        }
    }

    /// Checks that the limits can work together.
    ///
    /// # Errors
    /// [`BindError::Config`] naming the first field that cannot.
    pub fn validate(&self) -> Result<(), BindError> {
        let fail = |why: &'static str| Err(BindError::Config(why));
        let zero = Duration::ZERO;
        if self.max_connections == 0 || self.max_room_members == 0 {
            return fail("max_connections and max_room_members must be at least 1");
        }
        if self.messages_per_sec == 0 || self.message_burst == 0 || self.max_errors == 0 {
            return fail("messages_per_sec, message_burst and max_errors must be at least 1");
        }
        if self.max_message_size < 1024 {
            return fail("max_message_size must be at least 1 KiB");
        }
        if [
            self.join_timeout,
            self.handshake_timeout,
            self.ping_interval,
            self.dead_timeout,
        ]
        .contains(&zero)
            || self.write_timeout == zero
        {
            return fail("timeouts and ping_interval must be positive");
        }
        // The largest message ever queued is the peer list of a full room.
        let largest_peers = self
            .max_room_members
            .saturating_mul(NODE_ENTRY)
            .saturating_add(64 + MAX_ROOM_LEN);
        if self.outbox_bytes < largest_peers.max(self.max_message_size) {
            return fail(
                "outbox_bytes must hold a full room's peer list (67 bytes per member) and one \
                 largest message",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_checked() {
        let mut c = ServerConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)));
        c.validate().unwrap();
        c.max_room_members = 100_000;
        assert!(matches!(c.validate(), Err(BindError::Config(_))));
    }
}
