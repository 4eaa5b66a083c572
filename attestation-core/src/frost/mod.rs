//! The FROST committee (RFC 9591, Zcash Foundation's `frost-ed25519`): the curve math is
//! theirs; the protocol around it over the mesh is ours.
//!
//! - [`dkg`]: the distributed key generation of `PK_G`, with an echo check for round 1
//!   and HPKE-sealed round-2 shares.
//! - [`sign`]: signing sessions — a coordinator, commitments from any `t`, the signing
//!   package, share verification with cheater detection and retries, durable nonce-use
//!   markers.
//! - [`reshare`]: committee rotation keeping `PK_G` — new members, new threshold — with
//!   its protocol and security argument.
//! - [`call`]: how a run (DKG or resharing) is called by an admin and its result recorded.
//! - [`select`]: seed 004's deterministic committee rule.

pub mod call;
pub mod dkg;
pub mod reshare;
pub mod select;
pub mod sign;
