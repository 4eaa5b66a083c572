//! The group commands of the control socket (`quorate group …`): requests carry the
//! actor's secret (hex; the CLI opens the keystore with the passphrase), so the node acts
//! as that actor — decrypts its groups, admits the joins it may admit — until it stops.

pub use quorate_attestation_core::host::{AttestationView, ProposalView};
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
        /// Voting rules `ACTION=NUM/DEN` (fractional approval of the members), e.g.
        /// `TRIGGER_X=1/10`.
        #[serde(default)]
        approve: Vec<String>,
    },
    /// Without `threshold`: make this node the group's committee (a fresh single group
    /// key `PK_G` recorded in a new epoch). With `threshold`: call a FROST DKG among
    /// `members` (or `auto` members chosen by seed 004's rule, or every member); the
    /// committee is recorded once every member derived it. The actor must be the creator
    /// or a full co-admin.
    Committee {
        /// The group id (hex).
        group: String,
        /// FROST: signers needed.
        #[serde(default)]
        threshold: Option<u16>,
        /// FROST: the committee's actor ids (hex).
        #[serde(default)]
        members: Vec<String>,
        /// FROST: choose this many members by seed 004's rule.
        #[serde(default)]
        auto: Option<usize>,
    },
    /// Reshare the current FROST committee's key to new members and threshold (`PK_G`
    /// unchanged).
    Rotate {
        /// The group id (hex).
        group: String,
        /// The new threshold.
        threshold: u16,
        /// The new committee's actor ids (hex).
        #[serde(default)]
        members: Vec<String>,
        /// Or this many members chosen by seed 004's rule.
        #[serde(default)]
        auto: Option<usize>,
    },
    /// Propose an action in the group's current epoch.
    Propose {
        /// The group id (hex).
        group: String,
        /// The action type (`TRIGGER_X`, `REMOVE_MEMBER`, …).
        action: String,
        /// Data for an external action.
        data: Option<String>,
        /// The member to remove (`REMOVE_MEMBER`).
        remove: Option<String>,
        /// `ROTATE_COMMITTEE`: the new holders (hex ids).
        #[serde(default)]
        committee: Vec<String>,
        /// `ROTATE_COMMITTEE`: the new threshold.
        #[serde(default)]
        threshold: Option<u16>,
        /// Minutes open for votes.
        minutes: u64,
    },
    /// Vote on a proposal.
    Vote {
        /// The group id (hex).
        group: String,
        /// The proposal id (CID).
        proposal: String,
        /// YES (else NO).
        yes: bool,
    },
    /// The group's proposals: tallies and attestations.
    Proposals {
        /// The group id (hex).
        group: String,
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
    /// A FROST committee run was called.
    CommitteeCalled {
        /// The call block.
        call: String,
        /// The committee's actor ids.
        members: Vec<String>,
        /// Its threshold.
        threshold: u16,
    },
    /// Committee: the group key.
    Committee {
        /// `PK_G`, hex.
        group_key: String,
        /// The epoch recording it.
        epoch: u64,
    },
    /// Propose: the proposal.
    Proposed {
        /// Its id.
        proposal: String,
    },
    /// Vote: the vote block.
    Voted {
        /// Its CID.
        vote: String,
    },
    /// Proposals.
    Proposals {
        /// `PK_G` of the current epoch, hex (if known).
        group_key: Option<String>,
        /// Who holds it, e.g. `frost 3-of-5` or `single key`.
        #[serde(default)]
        committee: Option<String>,
        /// Newest first.
        proposals: Vec<ProposalView>,
    },
}
