//! What a [`GroupHost`](super::GroupHost) reports about its groups: plain values (hex
//! strings), serialisable, for CLIs, control sockets and web pages.

use serde::{Deserialize, Serialize};

/// One message, oldest first in lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    /// Its CID.
    pub cid: String,
    /// The author's actor id.
    pub author: String,
    /// Epoch number.
    pub epoch: u64,
    /// Lamport clock.
    pub lamport: u64,
    /// The text, if this actor can read it (lossy UTF-8).
    pub text: Option<String>,
}

/// One group the host follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    /// Group id.
    pub group: String,
    /// Display name (from the genesis).
    pub name: String,
    /// Current epoch number, if known.
    pub epoch: Option<u64>,
    /// Members of the current epoch.
    pub members: Vec<String>,
    /// Whether the host's actor is a member (otherwise a blind cache).
    pub member: bool,
    /// Whether the host's actor may change the membership (creator or co-admin).
    #[serde(default)]
    pub admin: bool,
    /// Messages held.
    pub messages: usize,
}

/// One invitation received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    /// Who sent it.
    pub from: String,
    /// The group.
    pub group: String,
    /// The note.
    pub note: String,
    /// The invite block.
    pub invite: String,
}

/// A new epoch the host's actor made (a removal or a rekey).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochView {
    /// Its number.
    pub epoch: u64,
    /// Its state's CID.
    pub cid: String,
    /// Bytes of its blocks (what a rekey puts on the wire).
    pub bytes: usize,
}
