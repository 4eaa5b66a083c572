//! # quorate-group-core
//!
//! End-to-end encrypted groups that govern their own membership, as sans-IO state over
//! content-addressed blocks (seed 000 §Group Objects, §4, §7; seed 002 for co-admins and
//! store-and-forward; seed 001 for causal history).
//!
//! - [`GroupGenesis`] → [`GroupId`] `= SHA-256(genesis block)`; the creator signs it.
//! - [`GroupEpochState`] `{ groupId, epoch, membersRoot, committeeRoot, policyRoot,
//!   messageKeyInfo, signature }` names a [`MemberSet`], a [`Policy`] and a [`KeyIndex`],
//!   links to the previous state and carries seed 002's `admin_sequence`.
//! - A fresh 32-byte [`EpochKey`] per epoch, sealed to every member with HPKE
//!   (RFC 9180; [`KeyEnvelope`] `{ groupId, epoch, recipientActorId, encryptedKeyMaterial }`
//!   in [`KeyPage`]s): removing a member rotates to a key it never receives; a newcomer
//!   never receives earlier keys. Old keys stay with the members who had them, so history
//!   stays readable (no forward secrecy — see below).
//! - [`GroupMessage`]: XChaCha20-Poly1305 under the epoch key, `aad` binding group, epoch,
//!   author and causal history, signed by the author and checked *before* decryption;
//!   `parents` + Lamport clock give gap detection and a deterministic order.
//! - Authority, until governance: the creator and up to three co-admins ([`CoAdminCert`],
//!   [`Permission`]) — one [`Rule`] of the group's [`Policy`]. Competing epoch states:
//!   only validly authorised ones count; among those the highest epoch, then the highest
//!   `admin_sequence`, then the lowest signer id (`SHA-256` of the admin key), then the
//!   smallest CID ([`Epoch::rank`]).
//! - Joining and leaving: [`GroupInvite`] (an admin's), [`JoinRequest`] (the invitee's,
//!   carrying its keys), [`LeaveRequest`]; [`ops::admit`] turns pending ones into the
//!   next epoch. The invitation itself travels sealed on the rendezvous topic
//!   ([`invitation_body`]).
//!
//! [`GroupState`] is the reducer: any order and duplication of a group's blocks gives the
//! same state (proptested over 10,000 permutations). [`sync::GroupSync`] drives it over a
//! mesh node; [`ops`] makes new blocks; [`host::GroupHost`] is a node's whole group layer
//! (every group it follows, its invitations, caching and admission), shared by the native
//! and browser nodes.
//!
//! # What the envelope mode does not protect
//! Members see each other's keys and ids; so does anyone holding the group's blocks (blind
//! caches, relays): membership, epochs, authors, message sizes and timing are visible,
//! contents are not. A removed member keeps the keys of epochs it was in (it can read what
//! was sent in them, including messages a lagging member sends in an old epoch before
//! hearing of the removal); there is no forward secrecy or post-compromise security within
//! an epoch (seed 000 defers that to an MLS-style TreeKEM). An admin can give a member a
//! wrong key only detectably (envelopes are checked against `keyId`).
//!
//! # Sans-IO
//! No clock, no IO, no global RNG: time is an argument (`Instant` for machines, Unix ms
//! for timestamps), randomness arrives as `&mut impl CryptoRngCore`, blocks are values.
//!
//! # Driving
//! ```
//! use quorate_actor_core::{ActorSecret, Identity};
//! use quorate_group_core::{GroupState, Member, StateConfig, ops};
//! use rand_core::OsRng;
//!
//! let alice = Identity::from_secret(ActorSecret::from_bytes([1; 32]));
//! let bob = Identity::from_secret(ActorSecret::from_bytes([2; 32]));
//! // Alice creates a group with Bob: genesis + epoch 0 + a key sealed to both.
//! let group = ops::create_group(&alice, "book club", vec![Member::of(&bob)], vec![], 0, &mut OsRng)?;
//! let mut alice_view = GroupState::new(group.id, Some(alice.clone()), StateConfig::default());
//! for block in group.blocks() {
//!     alice_view.insert(block.clone()); // a runtime also publishes each on group.id.topic()
//! }
//! let hello = ops::compose(&alice, &alice_view, b"hello", &mut OsRng)?;
//!
//! // Bob's node receives the blocks in any order.
//! let mut bob_view = GroupState::new(group.id, Some(bob), StateConfig::default());
//! bob_view.insert(hello);
//! for block in group.blocks() {
//!     bob_view.insert(block.clone());
//! }
//! let first = bob_view.messages().next().and_then(|m| m.plaintext.clone());
//! assert_eq!(first.as_deref(), Some(&b"hello"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors and panics
//! Typed, `#[non_exhaustive]` errors per operation: [`ObjectError`] (one block on its
//! own), [`EpochError`] (a transition), [`MessageError`] (tampered ciphertext, wrong
//! `aad`, forged author, unknown epoch, not a member…), [`KeyError`] (an envelope for
//! someone else…), [`ops::OpError`]. Peer input never returns an error to the driver: it
//! becomes [`Change::Rejected`] with its [`Rejection`]. Nothing reachable from peer bytes
//! unwraps, indexes or panics (workspace lints); fuzz targets `group_*` cover every
//! decoder and the state machine.
//!
//! # Features
//! None.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod encode;
mod epoch;
mod error;
mod genesis;
pub mod host;
mod id;
mod key;
mod member;
mod message;
pub mod ops;
mod policy;
mod request;
mod state;
pub mod sync;

pub use epoch::{Epoch, EpochError, GroupEpochState, Parts, verify_transition};
pub use error::ObjectError;
pub use genesis::{GroupGenesis, MAX_NAME};
pub use id::{GroupId, GroupIdParseError, NAME_PREFIX, group_of_name};
pub use key::{
    Distribution, ENVELOPE_INFO, EpochKey, KeyEnvelope, KeyError, KeyIndex, KeyPage, MAX_PAGES,
    PAGE_SIZE, PageRef, SEALED_LEN,
};
pub use member::{MAX_MEMBERS, Member, MemberSet};
pub use message::{Draft, GroupMessage, MAX_PARENTS, MAX_PLAINTEXT, MessageError};
pub use policy::{
    AdminRule, CoAdminCert, Eligible, Fraction, MAX_ACTION_TYPE, MAX_ACTION_TYPES, MAX_CO_ADMINS,
    MAX_RULES, Permission, Policy, Rule, Silent, Tie, is_action_type,
};
pub use request::{GroupInvite, JoinRequest, LeaveRequest, MAX_NOTE, invitation_body};
pub use state::{Change, GroupState, Message, PendingJoin, Rejection, StateConfig};
