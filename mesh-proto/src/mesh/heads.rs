//! Named heads: announcing our own, remembering peers', and asking for one by name.

use crate::mesh::frame::{Frame, Head, MAX_HEAD_NAME_LEN, MAX_HEAD_QUERY};
use crate::mesh::machine::Mesh;
use crate::mesh::types::{ApiMisuse, ConnId, Event};

/// Remote heads remembered.
const REMOTE_HEADS_CAP: usize = 4_096;
/// Open head queries remembered (the oldest lapse first beyond this).
const HEAD_QUERIES_CAP: usize = 1_024;

impl Mesh {
    pub(crate) fn set_head(&mut self, head: Head) {
        let newer = self
            .local_heads
            .get(&head.name)
            .is_none_or(|old| head.seq > old.seq || (head.seq == old.seq && head.cid != old.cid));
        if newer {
            self.local_heads.insert(head.name.clone(), head.clone());
            self.announce_heads(Some(vec![head]));
        }
    }

    pub(crate) fn announce_heads(&mut self, only: Option<Vec<Head>>) {
        let heads = only.unwrap_or_else(|| self.local_heads.values().cloned().collect());
        for chunk in heads.chunks(256) {
            self.broadcast(&Frame::Heads(chunk.to_vec()), None, true);
        }
    }

    pub(crate) fn on_heads(&mut self, conn: ConnId, heads: Vec<Head>) {
        let Some(from) = self.node_of(conn) else {
            return;
        };
        let now = self.now;
        for head in heads {
            let queried = self
                .head_queries
                .get(&head.name)
                .is_some_and(|lapses| *lapses > now);
            let newer = self
                .remote_heads
                .get(&head.name)
                .is_none_or(|old| head.seq > old.seq);
            let room = self.remote_heads.len() < REMOTE_HEADS_CAP
                || self.remote_heads.contains_key(&head.name);
            if newer && room {
                self.remote_heads.insert(head.name.clone(), head.clone());
            }
            if queried || (newer && room) {
                self.emit(Event::HeadUpdated { head, from });
            }
        }
    }

    /// Opens (or extends) queries for `names` and asks every connected peer.
    pub(crate) fn query_heads(&mut self, names: Vec<String>) -> Result<(), ApiMisuse> {
        if names.len() > MAX_HEAD_QUERY {
            return Err(ApiMisuse::HeadQueryTooLarge(names.len()));
        }
        if names.iter().any(|n| n.len() > MAX_HEAD_NAME_LEN) {
            return Err(ApiMisuse::HeadNameTooLong);
        }
        let lapses = self.now + self.config.head_query_ttl;
        for name in &names {
            self.head_queries.insert(name.clone(), lapses);
        }
        while self.head_queries.len() > HEAD_QUERIES_CAP {
            let oldest = self
                .head_queries
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(n, _)| n.clone());
            match oldest {
                Some(name) => self.head_queries.remove(&name),
                None => break,
            };
        }
        if !names.is_empty() {
            self.broadcast(&Frame::HeadQuery(names), None, false);
        }
        Ok(())
    }

    /// Sends the open queries to a peer that just came up.
    pub(crate) fn send_head_queries(&mut self, conn: ConnId) {
        let now = self.now;
        let open: Vec<String> = self
            .head_queries
            .iter()
            .filter(|(_, lapses)| **lapses > now)
            .map(|(n, _)| n.clone())
            .collect();
        for chunk in open.chunks(MAX_HEAD_QUERY) {
            self.send(conn, &Frame::HeadQuery(chunk.to_vec()), false);
        }
    }

    /// Answers with the heads we hold of those names (ours, not ones we merely heard of).
    pub(crate) fn on_head_query(&mut self, conn: ConnId, names: &[String]) {
        let heads: Vec<Head> = names
            .iter()
            .filter_map(|n| self.local_heads.get(n).cloned())
            .collect();
        if !heads.is_empty() {
            self.send(conn, &Frame::Heads(heads), false);
        }
    }
}
