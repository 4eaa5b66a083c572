//! The glue between a sync machine and a mesh node, shared by every runtime (the native
//! node, the browser node, the simulator tests), so they all drive it the same way.

use quorate_mesh_proto::mesh::{self, Head, Input, NodeId};
use quorate_mesh_proto::{Block, Cid, Instant};

use crate::sync::{Event, FeedSync, Login, Output};

/// A machine [`feed_event`] and [`drain`] can drive: [`FeedSync`] or [`Login`] here, and
/// the machines of higher layers (groups) that speak the same [`Output`] vocabulary.
pub trait Machine {
    /// What the machine tells the application.
    type Event;
    /// A head a peer announced.
    fn handle_head(&mut self, now: Instant, head: &Head, from: NodeId);
    /// A block from the store (`None`) or a peer.
    fn handle_block(&mut self, now: Instant, block: &Block, from: Option<NodeId>);
    /// Due timers.
    fn handle_timeout(&mut self, now: Instant);
    /// The next output.
    fn poll_output(&mut self) -> Option<Output<Self::Event>>;
    /// The next timer.
    fn poll_timeout(&self) -> Option<Instant>;
}

macro_rules! machine {
    ($t:ty) => {
        impl Machine for $t {
            type Event = Event;
            fn handle_head(&mut self, now: Instant, head: &Head, from: NodeId) {
                <$t>::handle_head(self, now, head, from);
            }
            fn handle_block(&mut self, now: Instant, block: &Block, from: Option<NodeId>) {
                <$t>::handle_block(self, now, block, from);
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now);
            }
            fn poll_output(&mut self) -> Option<Output<Event>> {
                <$t>::poll_output(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
        }
    };
}
machine!(FeedSync);
machine!(Login);

/// Hands a mesh event to the machine if it is one it consumes (`HeadUpdated`,
/// `Fetched`); returns whether it was.
pub fn feed_event(machine: &mut impl Machine, now: Instant, event: &mesh::Event) -> bool {
    match event {
        mesh::Event::HeadUpdated { head, from } => machine.handle_head(now, head, *from),
        mesh::Event::Fetched { block, from } => machine.handle_block(now, block, Some(*from)),
        _ => return false,
    }
    true
}

/// What [`drain`] leaves for the caller.
#[derive(Debug)]
pub struct Drained<E = Event> {
    /// Inputs for the mesh machine, in order.
    pub mesh: Vec<Input<'static>>,
    /// Events for the application.
    pub events: Vec<E>,
}

impl<E> Default for Drained<E> {
    fn default() -> Self {
        Drained {
            mesh: Vec::new(),
            events: Vec::new(),
        }
    }
}

/// Carries out every output: a needed block found by `load` (the local store) goes
/// straight back into the machine; everything else becomes a mesh input or an event.
pub fn drain<M: Machine>(
    machine: &mut M,
    now: Instant,
    mut load: impl FnMut(&Cid) -> Option<Block>,
) -> Drained<M::Event> {
    let mut out = Drained::default();
    while let Some(output) = machine.poll_output() {
        match output {
            Output::QueryHeads(names) => out.mesh.push(Input::QueryHeads(names)),
            Output::Need { cid, priority } => match load(&cid) {
                Some(block) => machine.handle_block(now, &block, None),
                None => out.mesh.push(Input::Want { cid, priority }),
            },
            Output::Penalize { node, reason } => out.mesh.push(Input::Penalize { node, reason }),
            Output::Announce(head) => out.mesh.push(Input::SetHead(head)),
            Output::Event(event) => out.events.push(event),
        }
    }
    out
}
