//! Which offers a WebRTC transport answers: the rules every adapter (native and browser)
//! must apply identically, or two nodes on different stacks would disagree about which of
//! two simultaneous connections survives. No IO.
//!
//! - **Replays**: an offer is identified by `(from, session)`; the last
//!   [`OFFERS_REMEMBERED`] are remembered and a repeat is dropped ([`OfferLog`]).
//! - **Glare**: when both nodes dial each other at once, the offer of the node with the
//!   smaller id wins. The larger node drops its own dial and answers under that dial's
//!   connection id (so the application sees one connection, the one it dialed); the
//!   smaller node ignores the other's offer and waits for its answer.
//! - **Restarts**: an offer from a node we have an open (or answering) connection to
//!   replaces that connection: the peer restarted or lost it.
//! - **Load**: at most `max_pending` connections opening at once; a fresh offer beyond
//!   that is refused (a glare answer reuses a slot, so it is not).

use std::collections::{BTreeSet, VecDeque};

use quorate_mesh_proto::mesh::{ConnId, NodeId};

/// Offers remembered for replay detection.
pub const OFFERS_REMEMBERED: usize = 4_096;

/// The `(from, session)` of recent offers, bounded.
#[derive(Debug, Default)]
pub struct OfferLog {
    seen: BTreeSet<(NodeId, u64)>,
    order: VecDeque<(NodeId, u64)>,
}

impl OfferLog {
    /// Records an offer; `false` if it was already seen (a replay).
    pub fn first_time(&mut self, from: NodeId, session: u64) -> bool {
        let key = (from, session);
        if !self.seen.insert(key) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > OFFERS_REMEMBERED
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
    }
}

/// What the transport already has with the offering node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Existing {
    /// Its connection id.
    pub conn: ConnId,
    /// We dialed it and it is not open yet (so this offer is glare).
    pub our_dial_pending: bool,
}

/// What to do with an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferVerdict {
    /// Seen before, or from ourselves: ignore it.
    Replay,
    /// Glare and our id is smaller: ignore it; the peer answers our offer.
    KeepOurDial,
    /// Glare and our id is larger: drop our dial (no event) and answer under its id.
    AnswerInPlaceOf(ConnId),
    /// A connection exists: fail it (`Disconnected`), then answer on a new id.
    Replace(ConnId),
    /// Answer on a new connection id.
    Answer,
    /// Too many connections opening: refuse it.
    TooManyPending,
}

/// Decides about an offer from `from` for `session`, recording it in `log`. `pending` is
/// the number of connections opening now (before any replacement).
pub fn admit_offer(
    log: &mut OfferLog,
    me: NodeId,
    from: NodeId,
    session: u64,
    existing: Option<Existing>,
    pending: usize,
    max_pending: usize,
) -> OfferVerdict {
    if from == me || !log.first_time(from, session) {
        return OfferVerdict::Replay;
    }
    match existing {
        Some(e) if e.our_dial_pending && me < from => OfferVerdict::KeepOurDial,
        Some(e) if e.our_dial_pending => OfferVerdict::AnswerInPlaceOf(e.conn),
        Some(e) => OfferVerdict::Replace(e.conn),
        None if pending >= max_pending => OfferVerdict::TooManyPending,
        None => OfferVerdict::Answer,
    }
}

/// A transport's side of admission: what [`Admit::admit`] needs to look at and do.
/// Both adapters implement it, so both carry out a verdict the same way.
pub trait Admit {
    /// Our node id.
    fn local_id(&self) -> NodeId;
    /// The replay log.
    fn offer_log(&mut self) -> &mut OfferLog;
    /// Our connection with `node`, if any.
    fn connection_with(&self, node: NodeId) -> Option<Existing>;
    /// Connections opening now, and the most allowed.
    fn opening(&self) -> (usize, usize);
    /// Forgets `conn` without an event (our dial that lost glare).
    fn forget_dial(&mut self, conn: ConnId);
    /// Closes `conn` and reports it `Disconnected`.
    fn fail_conn(&mut self, conn: ConnId);
    /// Records why an offer was refused (for `recent_errors`).
    fn offer_refused(&mut self, why: String);

    /// Decides about an offer and carries out the verdict: `None` to ignore it;
    /// `Some(reuse)` to answer it, under `reuse` (our dial's id) if set, else a new id.
    fn admit(&mut self, from: NodeId, session: u64) -> Option<Option<ConnId>> {
        let (me, existing) = (self.local_id(), self.connection_with(from));
        let (pending, max) = self.opening();
        match admit_offer(self.offer_log(), me, from, session, existing, pending, max) {
            OfferVerdict::Replay | OfferVerdict::KeepOurDial => None,
            OfferVerdict::TooManyPending => {
                self.offer_refused(format!(
                    "offer from {} refused: too many pending",
                    from.short()
                ));
                None
            }
            OfferVerdict::AnswerInPlaceOf(conn) => {
                self.forget_dial(conn);
                Some(Some(conn))
            }
            OfferVerdict::Replace(conn) => {
                self.fail_conn(conn);
                Some(None)
            }
            OfferVerdict::Answer => Some(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(b: u8) -> NodeId {
        NodeId::from_bytes([b; 32])
    }

    #[test]
    fn replays_and_self_offers_are_dropped() {
        let mut log = OfferLog::default();
        let (me, peer) = (node(1), node(2));
        assert_eq!(
            admit_offer(&mut log, me, peer, 7, None, 0, 8),
            OfferVerdict::Answer
        );
        assert_eq!(
            admit_offer(&mut log, me, peer, 7, None, 0, 8),
            OfferVerdict::Replay
        );
        assert_eq!(
            admit_offer(&mut log, me, me, 8, None, 0, 8),
            OfferVerdict::Replay
        );
        assert_eq!(
            admit_offer(&mut log, me, peer, 8, None, 0, 8),
            OfferVerdict::Answer
        );
    }

    #[test]
    fn the_log_forgets_the_oldest_past_its_bound() {
        let mut log = OfferLog::default();
        let peer = node(2);
        for s in 0..=OFFERS_REMEMBERED as u64 {
            assert!(log.first_time(peer, s));
        }
        assert!(log.first_time(peer, 0), "the oldest was forgotten");
        assert!(!log.first_time(peer, OFFERS_REMEMBERED as u64));
    }

    #[test]
    fn glare_is_won_by_the_smaller_id_on_both_sides() {
        let (small, large) = (node(1), node(9));
        let (c_small, c_large) = (ConnId(10), ConnId(20));
        let pending = |conn| {
            Some(Existing {
                conn,
                our_dial_pending: true,
            })
        };
        // Each receives the other's offer while its own dial is pending.
        let at_small = admit_offer(
            &mut OfferLog::default(),
            small,
            large,
            1,
            pending(c_small),
            1,
            8,
        );
        let at_large = admit_offer(
            &mut OfferLog::default(),
            large,
            small,
            2,
            pending(c_large),
            1,
            8,
        );
        assert_eq!(at_small, OfferVerdict::KeepOurDial);
        assert_eq!(at_large, OfferVerdict::AnswerInPlaceOf(c_large));
    }

    #[test]
    fn an_offer_over_a_live_connection_replaces_it_and_load_is_capped() {
        let mut log = OfferLog::default();
        let (me, peer) = (node(5), node(3));
        let open = Some(Existing {
            conn: ConnId(4),
            our_dial_pending: false,
        });
        assert_eq!(
            admit_offer(&mut log, me, peer, 1, open, 8, 8),
            OfferVerdict::Replace(ConnId(4))
        );
        assert_eq!(
            admit_offer(&mut log, me, peer, 2, None, 8, 8),
            OfferVerdict::TooManyPending
        );
    }
}
