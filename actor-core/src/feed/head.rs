//! `FeedHead` and `FeedPage`: the signed tip of a feed and the index that lets a node
//! fetch all of it at once.
//!
//! Walking a feed back through `prev` links costs one round trip per entry: 10,000
//! entries at 50 ms would take over eight minutes. So the author also publishes an index:
//! pages of [`PAGE_LEN`] entry CIDs in order, and a head, signed by the actor, that names
//! the newest entry and every page. A node that has the head asks for all pages at once
//! and then for all entries at once; every block is authenticated by its CID, the head by
//! the actor's signature, and each entry is still checked against its own signature and
//! its neighbour's CID. Full pages never change, so a node that synced before fetches
//! only the new pages.

use ed25519_dalek::VerifyingKey;
use quorate_mesh_proto::mesh::Head;
use quorate_mesh_proto::{Block, BlockPayload, Cid, PinClass};
use serde::{Deserialize, Serialize};

use crate::feed::FeedError;
use crate::id::ActorId;
use crate::identity::Identity;

/// Entry CIDs per page.
pub const PAGE_LEN: usize = 1024;
/// Most pages a head may list (so a feed holds at most 4,194,304 entries).
pub const MAX_PAGES: usize = 4096;

/// The signed tip of a feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedHead {
    /// The author.
    pub actor: ActorId,
    /// Seq of the newest entry.
    pub seq: u64,
    /// CID of the newest entry.
    pub entry: Cid,
    /// The actor's current profile.
    pub profile: Cid,
    /// Index pages, in order; all but the last hold exactly [`PAGE_LEN`] CIDs.
    pub pages: Vec<Cid>,
}

impl BlockPayload for FeedHead {
    const TYPE: &'static str = "feed-head";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::FeedHead;
}

/// One page of a feed's index: entry CIDs `first ..`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedPage {
    /// The author.
    pub actor: ActorId,
    /// Seq of the first entry listed.
    pub first: u64,
    /// Entry CIDs in seq order.
    pub entries: Vec<Cid>,
}

impl BlockPayload for FeedPage {
    const TYPE: &'static str = "feed-page";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::FeedEntry;
}

/// The mesh head name of an actor's feed: `feed/<actor id hex>`.
#[must_use]
pub fn head_name(actor: &ActorId) -> String {
    format!("feed/{actor}")
}

impl FeedHead {
    /// Signs a head as a block.
    ///
    /// # Errors
    /// [`FeedError::Malformed`] if it cannot be encoded.
    pub fn sign(&self, identity: &Identity) -> Result<Block, FeedError> {
        Block::encode_signed(self, identity.signing_key())
            .map_err(|e| FeedError::Malformed(e.to_string()))
    }

    /// Decodes a head block and checks it: signed by the actor named inside, page count
    /// consistent with `seq`.
    ///
    /// # Errors
    /// [`FeedError`] naming the fault.
    pub fn verify_block(block: &Block) -> Result<FeedHead, FeedError> {
        let envelope = block
            .decode::<FeedHead>()
            .map_err(|e| FeedError::Malformed(e.to_string()))?;
        let head = envelope.payload.clone();
        let signer = envelope.verify().map_err(|_| FeedError::BadSignature)?;
        if !head.actor.is_key_of(&signer) {
            return Err(FeedError::WrongActor);
        }
        if Some(head.pages.len()) != pages_for(head.seq) {
            return Err(FeedError::Malformed("page count does not match seq".into()));
        }
        Ok(head)
    }

    /// The signing key of a head block already checked by [`FeedHead::verify_block`].
    #[must_use]
    pub fn signer(block: &Block) -> Option<VerifyingKey> {
        block.decode::<FeedHead>().ok()?.verify().ok()
    }

    /// The mesh head announcing this feed head block.
    #[must_use]
    pub fn mesh_head(&self, block_cid: Cid) -> Head {
        Head {
            name: head_name(&self.actor),
            seq: self.seq,
            cid: block_cid,
        }
    }

    /// How many entries page `index` must list.
    #[must_use]
    pub fn page_len(&self, index: usize) -> Option<usize> {
        let total = usize::try_from(self.seq).ok()?.checked_add(1)?;
        let start = index.checked_mul(PAGE_LEN)?;
        (start < total).then(|| (total - start).min(PAGE_LEN))
    }
}

/// Pages needed for entries `0..=seq`, if within [`MAX_PAGES`].
#[must_use]
pub fn pages_for(seq: u64) -> Option<usize> {
    let total = usize::try_from(seq).ok()?.checked_add(1)?;
    let pages = total.div_ceil(PAGE_LEN);
    (pages <= MAX_PAGES).then_some(pages)
}

impl FeedPage {
    /// As a block.
    ///
    /// # Errors
    /// [`FeedError::Malformed`] if it cannot be encoded.
    pub fn to_block(&self) -> Result<Block, FeedError> {
        Block::encode(self).map_err(|e| FeedError::Malformed(e.to_string()))
    }

    /// Decodes a page and checks it is page `index` of `head`.
    ///
    /// # Errors
    /// [`FeedError::Malformed`] if it is not that page.
    pub fn verify_block(
        block: &Block,
        head: &FeedHead,
        index: usize,
    ) -> Result<FeedPage, FeedError> {
        let page = block
            .decode::<FeedPage>()
            .map_err(|e| FeedError::Malformed(e.to_string()))?
            .payload;
        let first = index
            .checked_mul(PAGE_LEN)
            .and_then(|f| u64::try_from(f).ok());
        if page.actor != head.actor
            || Some(page.first) != first
            || Some(page.entries.len()) != head.page_len(index)
        {
            return Err(FeedError::Malformed(format!(
                "page {index} does not fit the head"
            )));
        }
        Ok(page)
    }
}
