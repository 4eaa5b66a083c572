//! `FeedLog`: the author's side — append entries, publish heads and pages.

use quorate_mesh_proto::{Block, Cid};

use crate::feed::head::{FeedHead, FeedPage, MAX_PAGES, PAGE_LEN};
use crate::feed::{FeedEntry, FeedError};
use crate::id::ActorId;
use crate::identity::Identity;

/// What to store and announce after [`FeedLog::publish`].
#[derive(Clone, Debug)]
pub struct Publication {
    /// The signed head block.
    pub head: Block,
    /// The head, decoded.
    pub feed_head: FeedHead,
    /// Pages that changed since the last publication (the last page, and any that filled).
    pub pages: Vec<Block>,
}

/// An actor's own feed: entry CIDs in order, the newest entry, published pages.
#[derive(Clone, Debug)]
pub struct FeedLog {
    actor: ActorId,
    cids: Vec<Cid>,
    last: Option<FeedEntry>,
    /// Full pages already published (they never change again).
    full_published: Vec<Cid>,
}

impl FeedLog {
    /// An empty feed.
    #[must_use]
    pub fn new(actor: ActorId) -> Self {
        FeedLog {
            actor,
            cids: Vec::new(),
            last: None,
            full_published: Vec::new(),
        }
    }

    /// Continues a feed rebuilt by rehydration: `entries` are its CIDs in seq order and
    /// `last` the newest entry.
    ///
    /// # Errors
    /// [`FeedError::Malformed`] if `last` is not the entry at the end of `entries`.
    pub fn resume(entries: Vec<Cid>, last: FeedEntry) -> Result<Self, FeedError> {
        let fits = u64::try_from(entries.len()).ok() == last.seq.checked_add(1);
        if !fits {
            return Err(FeedError::Malformed(
                "resume: last entry does not end the list".into(),
            ));
        }
        Ok(FeedLog {
            actor: last.actor,
            cids: entries,
            last: Some(last),
            full_published: Vec::new(),
        })
    }

    /// Continues a feed from its own verified head: `entries` are the CIDs the head's
    /// pages list, `last` the newest entry. Full pages are not republished.
    ///
    /// # Errors
    /// [`FeedError::Malformed`] if the three do not fit together.
    pub fn resume_from(
        head: &FeedHead,
        entries: Vec<Cid>,
        last: FeedEntry,
    ) -> Result<Self, FeedError> {
        let fits =
            last.actor == head.actor && last.seq == head.seq && entries.last() == Some(&head.entry);
        if !fits {
            return Err(FeedError::Malformed(
                "resume: head, entries and last entry disagree".into(),
            ));
        }
        let mut log = FeedLog::resume(entries, last)?;
        let full = log.cids.len() / PAGE_LEN;
        log.full_published = head.pages.iter().take(full).copied().collect();
        Ok(log)
    }

    /// The author.
    #[must_use]
    pub const fn actor(&self) -> ActorId {
        self.actor
    }

    /// Entries so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cids.len()
    }

    /// True before the first append.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cids.is_empty()
    }

    /// Entry CIDs in seq order.
    #[must_use]
    pub fn entries(&self) -> &[Cid] {
        &self.cids
    }

    /// Signs the next entry. `timestamp` below the previous entry's is raised to it, so
    /// a clock stepping back never breaks the feed.
    ///
    /// # Errors
    /// [`FeedError::WrongActor`] for someone else's identity, [`FeedError::Malformed`] past
    /// the feed's length limit or with too many payloads.
    pub fn append(
        &mut self,
        identity: &Identity,
        timestamp: u64,
        payloads: Vec<Cid>,
    ) -> Result<Block, FeedError> {
        if identity.id() != self.actor {
            return Err(FeedError::WrongActor);
        }
        if self.cids.len() >= PAGE_LEN * MAX_PAGES {
            return Err(FeedError::Malformed("feed is full".into()));
        }
        let seq = u64::try_from(self.cids.len()).map_err(|_| FeedError::Malformed("seq".into()))?;
        let timestamp = self
            .last
            .as_ref()
            .map_or(timestamp, |l| timestamp.max(l.timestamp));
        let entry = FeedEntry::sign(
            identity,
            seq,
            self.cids.last().copied(),
            timestamp,
            payloads,
        )?;
        let block = entry.to_block()?;
        self.cids.push(*block.cid());
        self.last = Some(entry);
        Ok(block)
    }

    /// Signs a head for the current feed, with the pages that changed.
    ///
    /// # Errors
    /// [`FeedError::Malformed`] for an empty feed; [`FeedError::WrongActor`] for someone
    /// else's identity.
    pub fn publish(&mut self, identity: &Identity, profile: Cid) -> Result<Publication, FeedError> {
        if identity.id() != self.actor {
            return Err(FeedError::WrongActor);
        }
        let (Some(last), Some(entry)) = (&self.last, self.cids.last()) else {
            return Err(FeedError::Malformed("nothing to publish".into()));
        };
        let (seq, entry) = (last.seq, *entry);
        let mut pages = Vec::new();
        let mut page_cids = self.full_published.clone();
        for (index, chunk) in self
            .cids
            .chunks(PAGE_LEN)
            .enumerate()
            .skip(self.full_published.len())
        {
            let first =
                u64::try_from(index * PAGE_LEN).map_err(|_| FeedError::Malformed("seq".into()))?;
            let page = FeedPage {
                actor: self.actor,
                first,
                entries: chunk.to_vec(),
            };
            let block = page.to_block()?;
            page_cids.push(*block.cid());
            if chunk.len() == PAGE_LEN {
                self.full_published.push(*block.cid());
            }
            pages.push(block);
        }
        let feed_head = FeedHead {
            actor: self.actor,
            seq,
            entry,
            profile,
            pages: page_cids,
        };
        let head = feed_head.sign(identity)?;
        Ok(Publication {
            head,
            feed_head,
            pages,
        })
    }
}
