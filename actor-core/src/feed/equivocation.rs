//! Equivocation: two entries an actor signed for the same position of its feed.

use quorate_mesh_proto::{BlockPayload, PinClass};
use serde::{Deserialize, Serialize};

use crate::feed::FeedEntry;
use crate::id::ActorId;

/// Proof that `actor` forked its feed: two different entries, both validly signed by it,
/// with the same `seq`. Anyone can check it with [`Equivocation::verify`] — no trust in
/// whoever reports it — so it can travel as a block and feed governance later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equivocation {
    /// One entry.
    pub a: FeedEntry,
    /// The other, same actor and seq, different content.
    pub b: FeedEntry,
}

impl BlockPayload for Equivocation {
    const TYPE: &'static str = "feed-equivocation";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::FeedEntry;
}

impl Equivocation {
    /// Evidence from two entries, if they are one.
    #[must_use]
    pub fn of(a: FeedEntry, b: FeedEntry) -> Option<Equivocation> {
        let (a, b) = if a.signature <= b.signature {
            (a, b)
        } else {
            (b, a)
        };
        let evidence = Equivocation { a, b };
        evidence.verify().then_some(evidence)
    }

    /// The actor that forked.
    #[must_use]
    pub fn actor(&self) -> ActorId {
        self.a.actor
    }

    /// The position forked.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.a.seq
    }

    /// True if both entries verify, name the same actor and seq, and differ.
    #[must_use]
    pub fn verify(&self) -> bool {
        self.a.actor == self.b.actor
            && self.a.seq == self.b.seq
            && self.a != self.b
            && self.a.verify().is_ok()
            && self.b.verify().is_ok()
    }
}
