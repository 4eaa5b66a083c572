//! The global rendezvous topic: how actors who share no group find and reach each other.
//!
//! # What goes on the topic
//! Every node subscribes to the gossip topic [`Topic::global`]. It carries two block
//! types and nothing else:
//!
//! - [`Presence`] (`actor-presence`): "actor A is on node N until T", signed by A's key.
//!   It binds a permanent identity to an ephemeral transport id (seed 003).
//! - [`GlobalEnvelope`] (`global-envelope`): an HPKE-sealed message to one actor. Its
//!   [`Body`] is an invitation (to a group, or to talk) or encrypted bootstrap material for
//!   a small group.
//!
//! Never on the topic: plaintext group content, plaintext messages of any kind, group
//! keys in the clear. Groups talk on their own topics; the global one only gets them
//! started. An [`Inbox`] rejects any other block type as [`RejectReason::UnexpectedType`].
//!
//! # Recipient tags
//! An envelope names its recipient by `to_tag = SHA-256("quorate/to-tag/v1" || X25519
//! public key || slot)`, with `slot = now_ms / SLOT_MS` (one hour) as a big-endian `u64`
//! ([`to_tag`], [`slot`]). The recipient computes its own tags for the current slot and one
//! either side (clock skew, slot boundaries: [`accepted_slots`]) and drops everything else
//! after one comparison. Who does not know the recipient's X25519 key cannot tell whom an
//! envelope is for, nor link one hour's envelopes to the next; who does know the key (a
//! contact) can recognise the tag. Since a recipient stops recognising a tag one to two
//! slots after sending, an envelope lives at most [`MAX_TTL_MS`] (one slot).
//!
//! # Encryption
//! `ciphertext = enc || ct`, HPKE base mode (RFC 9180) with DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256 and ChaCha20-Poly1305 (module [`suite`], checked against the RFC's
//! vector A.2.1), to the recipient's X25519 key, with
//!
//! - `info = "quorate/global-envelope/v1"` ([`INFO`]);
//! - `aad = to_tag || expires_at_ms` (big-endian, [`envelope_aad`]), so a relay can
//!   neither retarget an envelope nor extend its life.
//!
//! # Sealed sender
//! The plaintext is a canonical DAG-CBOR [`Sealed`] `{ from, from_key, body, sig }`, where
//! `sig` is `from_key`'s Ed25519 signature under `Domain::GlobalEnvelope` of the
//! canonical map `{ to_tag, expires_at_ms, from, from_key, body }`. Only the recipient
//! learns who sent it; the signature binds the tag and expiry, so the recipient cannot
//! pass it on as if sent to someone else. A sender who wants to be seen by everyone also
//! signs the outside ([`GlobalEnvelope::sign`], same domain, over the canonical DAG-CBOR
//! of the envelope payload without `signature`; the signer must be the sealed sender).
//! The two signed byte strings are DAG-CBOR maps with different keys, so neither can pass
//! for the other.
//!
//! # Proof of work and the order of checks
//! A receiver may demand `difficulty` leading zero bits of
//! `SHA-256("quorate/pow/v1" || payload || nonce as u64 big-endian)`, where `payload` is
//! the canonical DAG-CBOR of the envelope payload without `pow` and `signature`
//! ([`mint_pow`], [`check_pow`]; about 2^d short hashes to mint, one pass over the
//! envelope to check). [`Inbox::handle`] checks, in this order, stopping at the first
//! failure:
//!
//! 1. block size ([`MAX_ENVELOPE_SIZE`]) and type, then strict decoding and the ciphertext
//!    bounds: no parsing beyond the size limit;
//! 2. **proof of work**, before any signature or decryption: junk costs one hash pass
//!    over the envelope and no public-key operation;
//! 3. expiry (not past, not beyond [`MAX_TTL_MS`] + [`MAX_CLOCK_SKEW_MS`] ahead);
//! 4. the tag against the three cached tags: a mismatch is [`InboxOutcome::NotForUs`],
//!    the common case, with no decryption;
//! 5. duplicates (same block, or same content with another `pow` / no outer signature);
//! 6. the outer signature, if any; HPKE open; the sealed content: canonical, the body
//!    limits, `from == SHA-256(from_key)`, its signature; outer signer == `from_key`.
//!
//! Faults in steps 1 to 3 and the outer signature can be seen by any relay, so the peer
//! that forwarded the block is accountable; the rest only the recipient sees
//! ([`RejectReason::forwarder_accountable`]).
//!
//! # The allow-list rule
//! An envelope that opens is [`InboxOutcome::Delivered`] only if its sender is in
//! [`InboxConfig::allow`] or was [`Inbox::accept`]ed. Anything else is held, unread by the
//! application, in a pending list of at most [`InboxConfig::max_pending`] (the oldest
//! goes first) and reported as [`InboxOutcome::Held`]; the user accepts the sender (which
//! hands back its held messages) or [`Inbox::dismiss`]es them.
//!
//! # Driving an inbox
//! 1. Make one [`Inbox`] per local actor with its [`InboxConfig`].
//! 2. For every block the mesh delivers on [`Topic::global`], call
//!    [`Inbox::handle`]`(now_ms, &block)`.
//! 3. Act on the outcome: show `Delivered`, list `Held` senders for the user, score the
//!    sending peer on `Rejected` (weighted by `forwarder_accountable`), update routes on
//!    `Presence`; `NotForUs` and `Duplicate` need nothing.
//! 4. To send: [`GlobalEnvelope::seal`], [`mint_pow`] at the difficulty the network asks
//!    for, optionally [`GlobalEnvelope::sign`], then publish
//!    [`GlobalEnvelope::to_block`] on the topic. Announce yourself with
//!    [`Presence::to_block`] before your last presence runs out.
//!
//! ```
//! use quorate_actor_core::Identity;
//! use quorate_actor_core::rendezvous::{
//!     mint_pow, Body, GlobalEnvelope, Inbox, InboxConfig, InboxOutcome,
//! };
//! use rand_chacha::rand_core::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
//! let alice = Identity::generate(&mut rng);
//! let bob = Identity::generate(&mut rng);
//! let now_ms = 1_700_000_000_000;
//!
//! let body = Body::Invitation { group: None, note: "hi".into(), payload: None };
//! let mut envelope =
//!     GlobalEnvelope::seal(&alice, &bob.encryption_public(), body, now_ms, 600_000, &mut rng)?;
//! mint_pow(&mut envelope, 8)?;
//! let block = envelope.to_block()?;
//!
//! let mut inbox = Inbox::new(&bob, InboxConfig { difficulty: 8, ..InboxConfig::default() });
//! assert_eq!(inbox.handle(now_ms, &block), InboxOutcome::Held { from: alice.id() });
//! let held = inbox.accept(alice.id());
//! assert_eq!(held.len(), 1);
//! assert_eq!(held[0].from, alice.id());
//! assert_eq!(inbox.handle(now_ms, &block), InboxOutcome::Duplicate);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Topic::global`]: quorate_mesh_proto::mesh::Topic::global

mod envelope;
mod inbox;
mod pow;
mod presence;
pub mod suite;
mod tag;

pub use envelope::{
    AAD_LEN, Body, EnvelopeError, GlobalEnvelope, INFO, MAX_BOOTSTRAP, MAX_CIPHERTEXT,
    MAX_CLOCK_SKEW_MS, MAX_ENVELOPE_SIZE, MAX_NOTE, MAX_TTL_MS, Opened, SealError, Sealed,
    envelope_aad,
};
pub use inbox::{Delivery, Inbox, InboxConfig, InboxOutcome, RejectReason};
pub use pow::{MAX_POW_DIFFICULTY, PowError, check_pow, mint_pow, pow_hash};
pub use presence::{
    MAX_PRESENCE_SIZE, MAX_PRESENCE_TTL_MS, Presence, PresenceBook, PresenceError, verify_presence,
};
pub use tag::{SLOT_MS, accepted_slots, is_addressed_to, slot, to_tag};
