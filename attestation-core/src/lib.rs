//! # quorate-attestation-core
//!
//! One signature under one group key for what a group decided (seed 000 §Group
//! Authorization Attestation, §6): outsiders verify a plain Ed25519 signature under
//! `PK_G` without knowing members, votes or rules.
//!
//! - [`GroupAttestation`] `{ groupId, epoch, proposalId, signedMessageHash,
//!   groupSignature, issuedAt }` and [`verify_attestation`]: the outsider's check, needing
//!   only `PK_G` and the attestation (`quorate verify` on the command line; OpenSSL works
//!   too: see [`attestation`](crate::GroupAttestation)'s docs).
//! - [`Committee`]: the group's `committeeRoot` block — `PK_G` and who holds it.
//! - [`SingleKeyCommittee`]: the simplest signer (one node with an ordinary key), which
//!   checks the evidence itself — the proposal names the current epoch, whose committee
//!   is this key, and the votes meet the policy now — before it signs. A FROST committee
//!   produces the same attestation under the same kind of key.
//! - [`execute`]: the execution engine — an `ActionHandlerRegistry`, handlers that plan
//!   effects (a new epoch for internal actions, an HTTP POST for external ones), run only
//!   with a valid attestation in the matching epoch and validity window, once per
//!   proposal id with markers the runtime persists.
//! - [`frost`]: the FROST committee over `frost-ed25519` (RFC 9591): the distributed key
//!   generation with an echo check for round 1 and HPKE-sealed round-2 shares, signing
//!   sessions (coordinator, any `t`, cheater detection with re-checkable evidence,
//!   retries, durable nonce-use records), resharing to new members and threshold keeping
//!   `PK_G`, committee selection. [`GovernanceHost`](host::GovernanceHost) runs all of it
//!   over the group topic.
//! - [`host::GovernanceHost`]: a node's whole governance layer over group-core's
//!   `GroupHost` — ballots per group, verified attestations, the committee duty, the
//!   execution duty — shared by every runtime and the simulator.
//!
//! Sans-IO: time is an argument, randomness is passed in, nothing reads a clock.
//!
//! # Errors and panics
//! [`AttestationError`] (verification), [`Refusal`] (why the committee will not sign);
//! nothing reachable from peer bytes unwraps, indexes or panics.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod attestation;
mod committee;
pub mod execute;
pub mod frost;
pub mod host;

pub use attestation::{
    AttestationError, GroupAttestation, HASH_TAG, attested_hash, signed_message, verify_attestation,
};
pub use committee::{Attested, Committee, MAX_COMMITTEE, Refusal, Scheme, SingleKeyCommittee};
