//! The group commands of the control socket (`quorate group …`): requests carry the
//! actor's secret (hex; the CLI opens the keystore with the passphrase), so the node acts
//! as that actor — decrypts its groups, admits the joins it may admit — until it stops.

pub use quorate_group_core::host::{GroupView, InvitationView, MessageView};
use serde::{Deserialize, Serialize};

/// A group command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum GroupCommand {
    /// Create a group with this actor as creator and only member.
    Create {
        /// Display name.
        name: String,
    },
    /// Invite an actor: an invite block on the group topic, and a sealed invitation on the
    /// rendezvous topic (needs the invitee's profile: fetched from peers if not known).
    Invite {
        /// The group id (hex).
        group: String,
        /// The invitee's actor id (hex).
        actor: String,
        /// A note for the invitee.
        note: String,
        /// How long to wait for the invitee's profile.
        timeout_ms: u64,
    },
    /// Invitations this actor received.
    Invitations,
    /// Accept the invitation to a group: publish a join request (an admin admits it).
    Accept {
        /// The group id (hex).
        group: String,
    },
    /// Send a text message.
    Send {
        /// The group id (hex).
        group: String,
        /// The text.
        text: String,
    },
    /// Messages of a group, oldest first.
    Read {
        /// The group id (hex).
        group: String,
        /// Only the last this many.
        limit: usize,
    },
    /// Remove a member: a new epoch with a fresh key the member never receives.
    Remove {
        /// The group id (hex).
        group: String,
        /// The member's actor id (hex).
        actor: String,
    },
    /// Ask to leave (an admin removes you with the next epoch).
    Leave {
        /// The group id (hex).
        group: String,
    },
    /// The groups this node follows.
    List,
}

/// The answer to a [`GroupCommand`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "group_reply", rename_all = "snake_case")]
pub enum GroupReply {
    /// Create: the group.
    Created {
        /// Its id.
        group: String,
    },
    /// Invite: the invite block.
    Invited {
        /// Its CID.
        invite: String,
    },
    /// Invitations.
    Invitations {
        /// Oldest first.
        invitations: Vec<InvitationView>,
    },
    /// Accept: the join request.
    Requested {
        /// Its CID.
        request: String,
    },
    /// Send: the message.
    Sent {
        /// Its CID.
        cid: String,
    },
    /// Read.
    Messages {
        /// Oldest first.
        messages: Vec<MessageView>,
    },
    /// Remove: the new epoch.
    Epoch {
        /// Its number.
        epoch: u64,
        /// Its state's CID.
        cid: String,
        /// Bytes of its blocks (what a rekey puts on the wire).
        bytes: usize,
    },
    /// List.
    Groups {
        /// The groups.
        groups: Vec<GroupView>,
    },
}
