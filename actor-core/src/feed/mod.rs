//! The actor feed: an append-only, signed, hash-chained log.
//!
//! - [`FeedEntry`]: `{ actor, seq, prev, timestamp, payloads, key, signature }`; each entry
//!   names the CID of the one before it and is signed by the actor.
//! - [`FeedHead`] / [`FeedPage`]: the signed tip and the index of entry CIDs that let a
//!   node fetch a whole feed in a few round trips (see the `head` module docs).
//! - [`FeedLog`]: the author's side.
//! - [`Equivocation`]: two signed entries for one `seq` — proof that an actor forked.
//! - Verification of a whole feed lives in [`crate::sync`], which fetches and checks it.

mod entry;
mod equivocation;
mod head;
mod log;

pub use entry::{FeedEntry, MAX_PAYLOADS};
pub use equivocation::Equivocation;
pub use head::{FeedHead, FeedPage, MAX_PAGES, PAGE_LEN, head_name, pages_for};
pub use log::{FeedLog, Publication};

/// Why an entry, a head, a page or a whole feed is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// Does not decode, or breaks a shape rule (seq/prev, limits, page layout).
    #[error("malformed feed object: {0}")]
    Malformed(String),
    /// The key is not the actor's (its hash is not the actor id).
    #[error("signed by a key that is not the actor's")]
    WrongActor,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// Entry `seq` does not name the CID of entry `seq - 1`, or sits at the wrong place.
    #[error("entry {seq} does not chain to the entry before it")]
    BrokenChain {
        /// The entry.
        seq: u64,
    },
    /// Entry `seq` is older than the entry before it.
    #[error("entry {seq} has a timestamp before the previous entry's")]
    TimeWentBack {
        /// The entry.
        seq: u64,
    },
    /// The head's profile is not the actor's valid profile.
    #[error("the feed's profile is invalid: {0}")]
    BadProfile(String),
}
