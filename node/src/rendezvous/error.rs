//! Errors of the server and the client.

use std::net::SocketAddr;

/// A boxed error from a lower layer (IO, WebSocket), kept as a source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// [`Server::bind`](super::Server::bind) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// The configuration cannot work; the message names the field.
    #[error("invalid rendezvous configuration: {0}")]
    Config(&'static str),
    /// The socket could not be bound (address in use, not local, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

/// A [`Client`](super::Client) operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The room name breaks the rules ([`RoomName`](super::protocol::RoomName)).
    #[error(transparent)]
    InvalidRoom(#[from] super::protocol::RoomNameError),
    /// The URL is not a `ws://` URL the client can use.
    #[error("invalid rendezvous URL {url:?}: {source}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why.
        source: BoxError,
    },
    /// The TCP connection or WebSocket handshake failed.
    #[error("cannot reach rendezvous server {url}: {source}")]
    Connect {
        /// The URL given.
        url: String,
        /// Why.
        source: BoxError,
    },
    /// The server did not answer in time.
    #[error("rendezvous server {url} did not answer within {seconds} s")]
    Timeout {
        /// The URL given.
        url: String,
        /// The time allowed.
        seconds: u64,
    },
    /// The server refused the join (room full, invalid id, …).
    #[error("rendezvous server refused to join: {reason}")]
    Refused {
        /// The server's reason.
        reason: String,
    },
    /// The server answered something this client does not understand.
    #[error("rendezvous server broke the protocol: {0}")]
    Protocol(String),
    /// The payload is larger than [`MAX_PAYLOAD`](super::protocol::MAX_PAYLOAD).
    #[error(transparent)]
    Payload(#[from] super::protocol::PayloadError),
    /// The connection is closed; [`Client::next_event`](super::Client::next_event) has
    /// the last word.
    #[error("the rendezvous connection is closed")]
    Closed,
    /// Too many messages wait for the socket; try again later.
    #[error("the rendezvous connection is busy")]
    Busy,
}
