//! The FROST committee (RFC 9591, Zcash Foundation's `frost-ed25519`): the curve math is
//! theirs; the protocol around it over the mesh is ours. So far: the distributed key
//! generation ([`dkg`]). Signing sessions, cheater handling and resharing follow.

pub mod dkg;
