//! The control socket: how `quorate put`, `get`, `status` and `signal` talk to a running
//! node. A Unix socket at `DIR/control.sock`, one JSON object per line each way: a
//! [`Request`] tagged by `op`, answered by one [`Reply`] tagged by `reply`. Blocks travel
//! as standard base64; signaling blobs as URL-safe base64 without padding, joined by `.`.
//!
//! Local input is still checked: a request line over [`MAX_REQUEST`] bytes or one that
//! does not parse is answered with [`Reply::Error`] and the connection closed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::UnixStream;

/// The socket's name inside the data directory.
pub const CONTROL_SOCKET: &str = "control.sock";

/// Largest request line: a 2 MiB block in base64 with room to spare.
pub const MAX_REQUEST: usize = 4 * 1024 * 1024;

/// Largest reply line a client reads.
pub const MAX_REPLY: usize = 8 * 1024 * 1024;

/// A command for the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The node's state.
    Status,
    /// Store a block (pinned as the user's) and serve it to peers.
    Put {
        /// The block bytes, base64.
        block: String,
        /// `raw` or `dag-cbor`.
        codec: String,
    },
    /// A block from the store, else fetched from peers.
    Get {
        /// Its CID.
        cid: String,
        /// How long to wait for peers.
        timeout_ms: u64,
    },
    /// Dial a node (signaling goes by the rendezvous server or the mesh).
    Dial {
        /// Its id.
        node: String,
    },
    /// Manual signaling, step 1: dial `to` and return the offer to copy to it.
    Offer {
        /// The node to dial.
        to: String,
    },
    /// Manual signaling, step 2 and 3: take a blob copied from the other node; an offer is
    /// answered with the blob to copy back.
    Accept {
        /// The blob.
        signal: String,
    },
    /// Store blocks (pinned by their type's class) and announce heads; the node keeps
    /// announcing the heads after a restart. `quorate actor` publishes this way.
    Publish {
        /// DAG-CBOR blocks, base64.
        blocks: Vec<String>,
        /// Heads to announce.
        heads: Vec<HeadSpec>,
    },
    /// Log in anywhere: find the key backup of (handle, passphrase) on the mesh, open it,
    /// fetch and verify the actor's feed. Answered with [`Reply::LoggedIn`] once the feed
    /// is complete. The passphrase crosses the local socket only (mode 0600 directory).
    Login {
        /// The handle.
        handle: String,
        /// The passphrase.
        passphrase: String,
        /// How long to wait for peers.
        timeout_ms: u64,
    },
    /// A group command, as the actor whose secret (hex) it carries. The secret crosses the
    /// local socket only (mode 0600 directory); the node keeps it in memory until it stops.
    Group {
        /// The actor secret, hex.
        secret: String,
        /// The command.
        command: super::group_control::GroupCommand,
    },
}

/// A named head, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadSpec {
    /// Its name.
    pub name: String,
    /// Its sequence number.
    pub seq: u64,
    /// The block it names.
    pub cid: String,
}

/// What [`Request::Login`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginReply {
    /// The actor id.
    pub actor: String,
    /// The recovered actor secret, hex (the CLI seals it into a keystore at once).
    pub secret: String,
    /// The verified feed head block.
    pub head: String,
    /// Entries verified.
    pub entries: u64,
    /// Blocks the entries reference, fetched.
    pub payloads: u64,
    /// Milliseconds from the request to the keys (locator derivation included).
    pub keys_ms: u64,
    /// Milliseconds from the request to the whole feed verified.
    pub total_ms: u64,
}

/// The node's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// For [`Request::Status`].
    Status(Box<Status>),
    /// For [`Request::Publish`].
    Published,
    /// For [`Request::Login`].
    LoggedIn(Box<LoginReply>),
    /// For [`Request::Group`].
    Group(Box<super::group_control::GroupReply>),
    /// For [`Request::Put`].
    Put {
        /// The block's CID.
        cid: String,
    },
    /// For [`Request::Get`].
    Block {
        /// The bytes, base64.
        block: String,
        /// The node it came from, or `None` if it was already local.
        from: Option<String>,
    },
    /// For [`Request::Dial`].
    Dialing {
        /// The connection id.
        conn: u64,
    },
    /// For [`Request::Offer`] and [`Request::Accept`]: the blob to copy to the other node
    /// (empty when nothing needs to go back).
    Signal {
        /// The blob.
        signal: String,
    },
    /// The request failed.
    Error {
        /// Why.
        message: String,
    },
}

/// What [`Request::Status`] returns.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Status {
    /// This node's id.
    pub node: String,
    /// The WebRTC stack.
    pub stack: String,
    /// The bound UDP address.
    pub udp: String,
    /// The URL the web page is served at (`quorate node --serve-web`), if it is.
    #[serde(default)]
    pub web: Option<String>,
    /// The rendezvous server, if any.
    pub rendezvous: Option<RendezvousStatus>,
    /// Peers with a finished handshake.
    pub peers: Vec<PeerStatus>,
    /// Dials under way.
    pub dialing: Vec<String>,
    /// Blocks and bytes in the store.
    pub store_blocks: u64,
    /// Stored bytes.
    pub store_bytes: u64,
    /// Frames received from peers.
    pub frames_in: u64,
    /// Bytes of frames received from peers.
    pub bytes_in: u64,
    /// Bytes of frames sent to peers.
    pub bytes_out: u64,
    /// DataChannel traffic as the transport counted it.
    pub transport: TransportStatus,
    /// The last blocks fetched from peers, oldest first.
    pub fetched: Vec<FetchRecord>,
    /// The last peer misbehaviours seen, oldest first.
    pub misbehaviour: Vec<MisbehaviourRecord>,
    /// Refused signaling payloads per sender.
    pub bad_signals: Vec<BadSignals>,
}

/// The rendezvous connection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RendezvousStatus {
    /// Its URL.
    pub url: String,
    /// Whether it is connected now.
    pub connected: bool,
    /// Other members of the room.
    pub room_members: usize,
}

/// One connected peer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PeerStatus {
    /// Its node id.
    pub node: String,
    /// The connection id.
    pub conn: u64,
    /// Its score.
    pub score: i32,
}

/// DataChannel counters of the WebRTC transport.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TransportStatus {
    /// Connections opened since start.
    pub connections_opened: u64,
    /// Frames received over DataChannels.
    pub frames_in: u64,
    /// Bytes of frames received over DataChannels.
    pub bytes_in: u64,
    /// Frames sent over DataChannels.
    pub frames_out: u64,
    /// Bytes of frames sent over DataChannels.
    pub bytes_out: u64,
    /// Public addresses learned from STUN servers and offered to peers.
    pub server_reflexive: Vec<String>,
}

/// A block fetched from a peer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FetchRecord {
    /// Its CID.
    pub cid: String,
    /// Who served it.
    pub from: String,
    /// Its size.
    pub bytes: usize,
}

/// A peer that broke a rule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MisbehaviourRecord {
    /// Its node id, if the handshake got that far.
    pub node: Option<String>,
    /// What it did.
    pub reason: String,
    /// Its score after the penalty (none for a disconnection).
    pub score: Option<i32>,
}

/// Refused signaling payloads from one sender.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BadSignals {
    /// The sender as the carrier named it.
    pub node: String,
    /// How many were refused.
    pub count: u32,
    /// Whether its signals are now ignored.
    pub ignored: bool,
}

/// Why talking to the node failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No node answers on the socket.
    #[error("no node is running on {dir} ({reason}); start one with `quorate node --data {dir}`")]
    NotRunning {
        /// The data directory.
        dir: String,
        /// The OS error.
        reason: String,
    },
    /// The connection failed midway.
    #[error("talking to the node: {0}")]
    Io(#[from] std::io::Error),
    /// The node's answer did not parse.
    #[error("the node's reply did not parse: {0}")]
    BadReply(String),
    /// The node took too long.
    #[error("the node did not answer within {0:?}")]
    Timeout(Duration),
}

/// The control socket path of a data directory.
#[must_use]
pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join(CONTROL_SOCKET)
}

/// Sends one request to the node running on `dir` and waits up to `wait` for its reply.
///
/// # Errors
/// [`ControlError`]: no node, IO failure, unparsable reply, timeout.
pub async fn call(dir: &Path, request: &Request, wait: Duration) -> Result<Reply, ControlError> {
    let path = socket_path(dir);
    let stream = UnixStream::connect(&path)
        .await
        .map_err(|e| ControlError::NotRunning {
            dir: dir.display().to_string(),
            reason: e.to_string(),
        })?;
    tokio::time::timeout(wait, exchange(stream, request))
        .await
        .map_err(|_| ControlError::Timeout(wait))?
}

async fn exchange(stream: UnixStream, request: &Request) -> Result<Reply, ControlError> {
    let (read, mut write) = stream.into_split();
    let mut line =
        serde_json::to_vec(request).map_err(|e| ControlError::BadReply(e.to_string()))?;
    line.push(b'\n');
    write.write_all(&line).await?;
    let mut reply = Vec::new();
    let limit = u64::try_from(MAX_REPLY).unwrap_or(u64::MAX);
    BufReader::new(read)
        .take(limit)
        .read_until(b'\n', &mut reply)
        .await?;
    serde_json::from_slice(&reply).map_err(|e| ControlError::BadReply(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_a_stable_json_form() {
        let r = Request::Get {
            cid: "bafk".into(),
            timeout_ms: 5,
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"op":"get","cid":"bafk","timeout_ms":5}"#);
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), r);
        assert!(serde_json::from_str::<Request>(r#"{"op":"explode"}"#).is_err());
    }
}
