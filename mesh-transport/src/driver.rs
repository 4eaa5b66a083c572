//! [`Driver`]: the glue between one [`Mesh`], one [`Transport`] and one [`BlockStore`].

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use quorate_mesh_blockstore::{BlockStore, PutOptions, StoreError};
use quorate_mesh_proto::mesh::{ApiMisuse, ConnId, Event, Input, Mesh, NodeId, Output};
use quorate_mesh_proto::{Block, Cid, Instant};

use crate::transport::{SendError, Transport, TransportError, TransportEvent};

/// Most events kept for the application; older ones are dropped (and counted) beyond it.
pub const EVENT_QUEUE_CAP: usize = 65_536;

/// Something the application may want to know, drained with [`Driver::poll_event`].
#[derive(Debug)]
#[non_exhaustive]
pub enum DriverEvent {
    /// An event of the mesh machine (deliveries, peers up and down, misbehaviour…).
    Mesh(Event),
    /// A dial started with [`Driver::connect`] failed before the connection opened.
    DialFailed {
        /// The connection id the dial had.
        conn: ConnId,
        /// The node dialed.
        node: NodeId,
    },
    /// The block store failed. The machine goes on: a failed load is answered to the
    /// peer as "don't have", a failed store only loses the local copy.
    StoreFailed {
        /// What the driver was doing.
        op: StoreOp,
        /// The block.
        cid: Cid,
        /// The store's error.
        error: StoreError,
    },
    /// The machine refused an input that came from the transport (a transport bug,
    /// such as a reused connection id). Nothing else happened.
    InputRejected(ApiMisuse),
    /// An output kind this driver does not know (a newer machine); it was dropped.
    UnhandledOutput(Output),
}

/// The store operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreOp {
    /// Storing a verified block ([`Output::StoreBlock`]).
    Put,
    /// Loading a block to serve a peer ([`Output::LoadBlock`]).
    Get,
}

/// Why [`Driver::handle`] refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The machine refused it.
    #[error(transparent)]
    Mesh(#[from] ApiMisuse),
    /// The input belongs to the transport side (`Connected`, `Frame`…), which the driver
    /// feeds itself; the name of the input kind.
    #[error("{0} inputs come from the transport, not the application")]
    NotACommand(&'static str),
}

/// Drives a [`Mesh`] over a [`Transport`], keeping blocks in a [`BlockStore`].
///
/// Owns all three and follows the machine's poll contract exactly: every input is
/// followed by draining `poll_output` until `None`, and each output is carried out at
/// once — frames to the transport, blocks to the store, events to a queue the
/// application drains with [`Driver::poll_event`].
///
/// Frames the transport refuses with [`SendError::Full`] are kept, in order, and retried
/// on [`TransportEvent::Writable`] before the machine is told it may send again; the
/// machine queues (and, past its bound, drops) what it sends meanwhile.
///
/// Blocks are stored as [`PutOptions::cache`]; choosing pin classes by block type is the
/// job of the layers above, which can re-put with a pin. Blocks verified while handling
/// one batch of inputs are written together with [`BlockStore::put_many`] (one commit on
/// persistent stores) before the store is read and before `pump`/`handle` return.
#[derive(Debug)]
pub struct Driver<T, S> {
    mesh: Mesh,
    transport: T,
    store: S,
    events: VecDeque<DriverEvent>,
    events_dropped: u64,
    /// Dials not yet open: connection → node dialed.
    dialing: BTreeMap<ConnId, NodeId>,
    /// Frames refused with `Full` (and everything emitted for the connection after them).
    stalled: BTreeMap<ConnId, VecDeque<Bytes>>,
    /// Verified blocks not yet written: stored as one batch (one commit for persistent
    /// stores) before anything reads the store and before `pump`/`handle` return.
    puts: Vec<(Block, PutOptions)>,
    puts_bytes: usize,
}

/// A write batch is flushed early once it holds this many bytes.
const PUT_BATCH_BYTES: usize = 16 * 1024 * 1024;

impl<T: Transport, S: BlockStore> Driver<T, S> {
    /// A driver for `mesh` (fresh from [`Mesh::new`]) over `transport`, storing in `store`.
    #[must_use]
    pub fn new(mesh: Mesh, transport: T, store: S) -> Self {
        Driver {
            mesh,
            transport,
            store,
            events: VecDeque::new(),
            events_dropped: 0,
            dialing: BTreeMap::new(),
            stalled: BTreeMap::new(),
            puts: Vec::new(),
            puts_bytes: 0,
        }
    }

    /// Feeds an application command: `Publish`, `Subscribe`, `Unsubscribe`, `Want`,
    /// `CancelWant`, `SetHead`, `SendSignal`. Then carries out everything it caused.
    ///
    /// # Errors
    /// [`DriverError::Mesh`] if the machine refuses it (too large a block…);
    /// [`DriverError::NotACommand`] for inputs the transport side feeds.
    pub fn handle(&mut self, now: Instant, input: Input<'_>) -> Result<(), DriverError> {
        let transport_side = match &input {
            Input::Connected { .. } => Some("Connected"),
            Input::Disconnected { .. } => Some("Disconnected"),
            Input::Frame { .. } => Some("Frame"),
            Input::Writable { .. } => Some("Writable"),
            Input::BlockLoaded { .. } => Some("BlockLoaded"),
            _ => None,
        };
        if let Some(kind) = transport_side {
            return Err(DriverError::NotACommand(kind));
        }
        let result = self.mesh.handle_input(now, input);
        self.drain(now);
        result.map_err(DriverError::from)
    }

    /// Dials `node`. The mesh learns of the connection when the transport reports it open;
    /// a failed dial becomes [`DriverEvent::DialFailed`].
    ///
    /// # Errors
    /// The transport's, when the dial cannot start.
    pub fn connect(&mut self, node: NodeId) -> Result<ConnId, TransportError> {
        let conn = self.transport.connect(node)?;
        self.dialing.insert(conn, node);
        Ok(conn)
    }

    /// Processes everything available at `now`: every transport event, and the machine's
    /// timers if due (once per call: a machine's timers never come due again at the same
    /// instant), until the transport has nothing left. Returns how many transport events
    /// and timer firings it handled.
    pub fn pump(&mut self, now: Instant) -> usize {
        let mut handled = 0;
        let mut fired = false;
        loop {
            while let Some(event) = self.transport.poll_event() {
                self.on_transport_event(now, event);
                handled += 1;
            }
            if fired || self.mesh.poll_timeout().is_none_or(|t| t > now) {
                self.store_batch();
                return handled;
            }
            self.mesh.handle_timeout(now);
            self.drain_outputs(now);
            handled += 1;
            fired = true;
        }
    }

    /// When [`Driver::pump`] must next be called even if the transport stays quiet.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.mesh.poll_timeout()
    }

    /// The next event for the application, oldest first.
    pub fn poll_event(&mut self) -> Option<DriverEvent> {
        self.events.pop_front()
    }

    /// Events dropped because the application did not drain [`Driver::poll_event`] and
    /// more than [`EVENT_QUEUE_CAP`] piled up.
    #[must_use]
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    /// The machine (read-only: inputs go through the driver).
    #[must_use]
    pub fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    /// The machine, mutably. An escape hatch for tests and harnesses: after feeding it
    /// directly, call [`Driver::drain`] or outputs stay undone.
    pub fn mesh_mut(&mut self) -> &mut Mesh {
        &mut self.mesh
    }

    /// The block store.
    #[must_use]
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The block store, mutably (to seed or inspect blocks).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The transport.
    #[must_use]
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Takes the driver apart (to keep the store when a node restarts, say).
    #[must_use]
    pub fn into_parts(self) -> (Mesh, T, S) {
        (self.mesh, self.transport, self.store)
    }

    /// Carries out every pending output of the machine. [`Driver::handle`] and
    /// [`Driver::pump`] call it; call it yourself only after using [`Driver::mesh_mut`].
    pub fn drain(&mut self, now: Instant) {
        self.drain_outputs(now);
        self.store_batch();
    }

    /// Carries out pending outputs; blocks to store join the write batch.
    fn drain_outputs(&mut self, now: Instant) {
        while let Some(output) = self.mesh.poll_output() {
            match output {
                Output::Send { conn, frame } => self.send(now, conn, frame),
                Output::Close { conn } => {
                    self.stalled.remove(&conn);
                    self.transport.disconnect(conn);
                }
                Output::StoreBlock(block) => {
                    self.puts_bytes += block.len();
                    self.puts.push((block, PutOptions::cache()));
                    if self.puts_bytes >= PUT_BATCH_BYTES {
                        self.store_batch();
                    }
                }
                Output::LoadBlock { conn, cid } => {
                    self.store_batch();
                    let block = match self.store.get(&cid) {
                        Ok(block) => block,
                        Err(error) => {
                            let op = StoreOp::Get;
                            self.push_event(DriverEvent::StoreFailed { op, cid, error });
                            None
                        }
                    };
                    self.feed(now, Input::BlockLoaded { conn, cid, block });
                }
                Output::Event(event) => self.push_event(DriverEvent::Mesh(event)),
                other => self.push_event(DriverEvent::UnhandledOutput(other)),
            }
        }
    }

    /// Writes the batch in one `put_many` and reports failures.
    fn store_batch(&mut self) {
        let puts = std::mem::take(&mut self.puts);
        self.puts_bytes = 0;
        let failures: Vec<(Cid, StoreError)> = match puts.as_slice() {
            [] => return,
            [(block, opts)] => match self.store.put(block, *opts) {
                Ok(_) => Vec::new(),
                Err(error) => vec![(*block.cid(), error)],
            },
            batch => match self.store.put_many(batch) {
                Ok(results) => batch
                    .iter()
                    .zip(results)
                    .filter_map(|((b, _), r)| r.err().map(|e| (*b.cid(), e)))
                    .collect(),
                // The batch failed as a whole: retry one by one so each block gets its
                // own verdict (a full store may still take some).
                Err(_) => batch
                    .iter()
                    .filter_map(|(b, o)| self.store.put(b, *o).err().map(|e| (*b.cid(), e)))
                    .collect(),
            },
        };
        for (cid, error) in failures {
            let op = StoreOp::Put;
            self.push_event(DriverEvent::StoreFailed { op, cid, error });
        }
    }

    fn on_transport_event(&mut self, now: Instant, event: TransportEvent) {
        match event {
            TransportEvent::Connected { conn, remote } => {
                self.dialing.remove(&conn);
                self.feed(
                    now,
                    Input::Connected {
                        conn,
                        expected: remote,
                    },
                );
            }
            TransportEvent::Disconnected { conn } => {
                self.stalled.remove(&conn);
                if let Some(node) = self.dialing.remove(&conn) {
                    self.push_event(DriverEvent::DialFailed { conn, node });
                } else {
                    self.feed(now, Input::Disconnected { conn });
                }
            }
            TransportEvent::Frame { conn, bytes } => {
                self.feed(
                    now,
                    Input::Frame {
                        conn,
                        bytes: &bytes,
                    },
                );
            }
            TransportEvent::Writable { conn } => self.on_writable(now, conn),
        }
        self.drain_outputs(now);
    }

    /// Retries stalled frames first; only when they are all out may the machine send.
    fn on_writable(&mut self, now: Instant, conn: ConnId) {
        if let Some(queue) = self.stalled.get_mut(&conn) {
            while let Some(frame) = queue.pop_front() {
                match self.transport.send(conn, frame.clone()) {
                    Ok(()) => {}
                    Err(SendError::Full) => {
                        queue.push_front(frame);
                        return;
                    }
                    Err(_) => {
                        self.stalled.remove(&conn);
                        return;
                    }
                }
            }
            self.stalled.remove(&conn);
        }
        self.feed(
            now,
            Input::Writable {
                conn,
                writable: true,
            },
        );
    }

    fn send(&mut self, now: Instant, conn: ConnId, frame: Bytes) {
        if let Some(queue) = self.stalled.get_mut(&conn) {
            queue.push_back(frame); // keep the order behind the stalled ones
            return;
        }
        match self.transport.send(conn, frame.clone()) {
            Ok(()) => {}
            Err(SendError::Full) => {
                self.stalled.insert(conn, VecDeque::from([frame]));
                self.feed(
                    now,
                    Input::Writable {
                        conn,
                        writable: false,
                    },
                );
            }
            // Closed (or a future kind): the transport reports the disconnection.
            Err(_) => {}
        }
    }

    /// Feeds a transport-side input without draining: inside [`Driver::drain`] the loop
    /// picks up what it caused (no recursion); elsewhere the caller drains.
    fn feed(&mut self, now: Instant, input: Input<'_>) {
        if let Err(error) = self.mesh.handle_input(now, input) {
            self.push_event(DriverEvent::InputRejected(error));
        }
    }

    fn push_event(&mut self, event: DriverEvent) {
        if self.events.len() >= EVENT_QUEUE_CAP {
            self.events.pop_front();
            self.events_dropped += 1;
        }
        self.events.push_back(event);
    }
}
