//! Byzantine behaviour, built around an honest machine: the flooder adds junk to what
//! its node sends, the forger rewrites it. The machines themselves are never changed.

use bytes::Bytes;
use quorate_mesh_proto::mesh::{
    BlockFrame, ConnId, Frame, GossipFrame, MAX_FRAME_SIZE, Topic, TopicIds,
};
use quorate_mesh_proto::{Block, Cid};

use super::Sim;
use super::config::Behaviour;
use super::engine::{Ev, FLOOD_TICK};
use super::trace::TraceKind;
use super::transport::Endpoint;
use crate::transport::Transport;

/// The topic of the flooder's junk gossip (honest nodes never subscribe to it).
pub(crate) const JUNK_TOPIC: &str = "sim/junk";
/// Length of a forged block when the genuine length is unknown.
const FORGED_LEN: usize = 64;
/// Most announced ids a forger answers with junk per `IHave`.
const FORGE_PER_IHAVE: usize = 64;

impl Sim {
    /// One flooder tick: `frames_per_sec / 1000` junk frames to every established peer.
    pub(crate) fn flood(&mut self, i: usize, incarnation: u32) {
        let Some(node) = self.nodes.get(i) else {
            return;
        };
        let Behaviour::Flooder { frames_per_sec } = node.behaviour else {
            return;
        };
        if node.incarnation != incarnation || node.driver.is_none() {
            return;
        }
        let per_tick = (frames_per_sec / 1_000).max(1);
        let frames: Vec<Bytes> = (0..per_tick)
            .filter_map(|k| self.junk_frame(i, k))
            .collect();
        let Some(driver) = self.nodes.get_mut(i).and_then(|n| n.driver.as_mut()) else {
            return;
        };
        let conns: Vec<ConnId> = driver.mesh().peers().iter().map(|p| p.0).collect();
        let transport = driver.transport_mut();
        let mut sent = 0;
        for conn in &conns {
            for frame in &frames {
                if transport.send(*conn, frame.clone()).is_ok() {
                    sent += 1;
                }
            }
        }
        self.net.byzantine += sent;
        if !conns.is_empty() {
            self.trace
                .record(self.now, Some(i), TraceKind::Flood, &sent.to_le_bytes());
            self.after_step(i);
        }
        let at = self.now + FLOOD_TICK;
        self.schedule(
            at,
            Ev::Flood {
                node: i,
                incarnation,
            },
        );
    }

    /// A well-formed frame with junk content: a ping, or gossip of a fresh random block
    /// on a topic nobody subscribes to.
    fn junk_frame(&mut self, i: usize, k: u32) -> Option<Bytes> {
        let counter = {
            let node = self.nodes.get_mut(i)?;
            node.flood_counter += 1;
            node.flood_counter
        };
        let frame = if k.is_multiple_of(2) {
            Frame::Ping(counter)
        } else {
            let mut data = vec![0; 32];
            self.rng.fill(&mut data);
            let block = Block::raw(data).ok()?;
            Frame::Gossip(GossipFrame {
                topic: Topic::new(JUNK_TOPIC).ok()?,
                cid: *block.cid(),
                hops: 0,
                data: Some(block.bytes().to_vec()),
            })
        };
        frame.encode().ok()
    }

    /// Rewrites one frame a forger sends: junk bytes under genuine CIDs.
    pub(crate) fn forge(&mut self, bytes: Bytes) -> Vec<Bytes> {
        let Ok(frame) = Frame::decode(&bytes, MAX_FRAME_SIZE) else {
            return vec![bytes];
        };
        let frames = match frame {
            Frame::Block(b) => vec![self.forged_block(b.cid, b.data.len())],
            Frame::Gossip(g) if g.data.is_some() => {
                let len = g.data.as_ref().map_or(FORGED_LEN, Vec::len);
                let data = Some(self.junk(len));
                vec![Frame::Gossip(GossipFrame { data, ..g })]
            }
            // Cannot serve it? Serve junk instead.
            Frame::DontHave(cids) => cids
                .into_iter()
                .map(|cid| self.forged_block(cid, FORGED_LEN))
                .collect(),
            _ => return vec![bytes],
        };
        self.net.byzantine += frames.len() as u64;
        frames.iter().filter_map(|f| f.encode().ok()).collect()
    }

    fn forged_block(&mut self, cid: Cid, len: usize) -> Frame {
        let data = self.junk(len);
        Frame::Block(BlockFrame { cid, data })
    }

    fn junk(&mut self, len: usize) -> Vec<u8> {
        let mut data = vec![0; len.max(1)];
        self.rng.fill(&mut data);
        data
    }

    /// A forger that hears ids announced pushes junk gossip under them to every peer.
    pub(crate) fn forger_hears(&mut self, to: &Endpoint, bytes: &[u8]) {
        let forger = self
            .nodes
            .get(to.node)
            .is_some_and(|n| n.behaviour == Behaviour::Forger);
        if !forger {
            return;
        }
        let Ok(Frame::IHave(TopicIds { topic, cids })) = Frame::decode(bytes, MAX_FRAME_SIZE)
        else {
            return;
        };
        let frames: Vec<Bytes> = cids
            .into_iter()
            .take(FORGE_PER_IHAVE)
            .filter_map(|cid| {
                let data = Some(self.junk(FORGED_LEN));
                let topic = topic.clone();
                Frame::Gossip(GossipFrame {
                    topic,
                    cid,
                    hops: 0,
                    data,
                })
                .encode()
                .ok()
            })
            .collect();
        let Some(driver) = self.nodes.get_mut(to.node).and_then(|n| n.driver.as_mut()) else {
            return;
        };
        let conns: Vec<ConnId> = driver.mesh().peers().iter().map(|p| p.0).collect();
        let transport = driver.transport_mut();
        for conn in conns {
            for frame in &frames {
                let _ = transport.send(conn, frame.clone());
            }
        }
    }
}
