//! Invites, join and leave requests in the group state.

use quorate_actor_core::ActorId;
use quorate_mesh_proto::{Block, BlockPayload, Cid};

use super::{Change, GroupState, Outcome, Rejection};
use crate::error::ObjectError;
use crate::policy::Permission;
use crate::request::{GroupInvite, JoinRequest, LeaveRequest};

/// A join waiting for an admin: the request, its invite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingJoin {
    /// The join request's CID.
    pub cid: Cid,
    /// The request.
    pub request: JoinRequest,
    /// The invite it accepts.
    pub invite: GroupInvite,
}

impl GroupState {
    pub(super) fn try_invite(&mut self, cid: Cid, block: &Block) -> Outcome {
        let invite = match GroupInvite::decode(block, &self.group) {
            Ok(i) => i,
            Err(e) => {
                self.reject(cid, Rejection::Object(e));
                return Outcome::Done;
            }
        };
        let Some(epoch) = self.epochs.get(&invite.epoch_state) else {
            if self.rejected.contains_key(&invite.epoch_state) {
                self.reject(
                    cid,
                    Rejection::Object(ObjectError::Invalid("invite in an invalid epoch")),
                );
                return Outcome::Done;
            }
            return Outcome::Wait(vec![invite.epoch_state]);
        };
        let Some((_, genesis)) = self.genesis.as_ref() else {
            return Outcome::Wait(vec![epoch.state.genesis]);
        };
        let may = matches!(
            epoch.admins(genesis).permission(&invite.inviter),
            Some(Permission::Full | Permission::MembersOnly)
        );
        if !may {
            self.reject(
                cid,
                Rejection::Object(ObjectError::Invalid("inviter may not add members")),
            );
            return Outcome::Done;
        }
        self.invites.insert(cid, invite);
        self.changes.push_back(Change::Accepted {
            cid,
            class: GroupInvite::PIN,
        });
        Outcome::Done
    }

    pub(super) fn try_join(&mut self, cid: Cid, block: &Block) -> Outcome {
        let join = match JoinRequest::decode(block, &self.group) {
            Ok(j) => j,
            Err(e) => {
                self.reject(cid, Rejection::Object(e));
                return Outcome::Done;
            }
        };
        let Some(invite) = self.invites.get(&join.invite) else {
            if self.rejected.contains_key(&join.invite) {
                self.reject(
                    cid,
                    Rejection::Object(ObjectError::Invalid("join on an invalid invite")),
                );
                return Outcome::Done;
            }
            return Outcome::Wait(vec![join.invite]);
        };
        if invite.invitee != join.member.actor || join.created_at > invite.expires_at {
            self.reject(
                cid,
                Rejection::Object(ObjectError::Invalid("join does not match its invite")),
            );
            return Outcome::Done;
        }
        self.joins.insert(cid, join);
        self.changes.push_back(Change::Accepted {
            cid,
            class: JoinRequest::PIN,
        });
        self.changes.push_back(Change::Request(cid));
        Outcome::Done
    }

    pub(super) fn try_leave(&mut self, cid: Cid, block: &Block) -> Outcome {
        let leave = match LeaveRequest::decode(block, &self.group) {
            Ok(l) => l,
            Err(e) => {
                self.reject(cid, Rejection::Object(e));
                return Outcome::Done;
            }
        };
        if !self.epochs.contains_key(&leave.epoch_state) {
            if self.rejected.contains_key(&leave.epoch_state) {
                self.reject(
                    cid,
                    Rejection::Object(ObjectError::Invalid("leave in an invalid epoch")),
                );
                return Outcome::Done;
            }
            return Outcome::Wait(vec![leave.epoch_state]);
        }
        self.leaves.insert(cid, leave);
        self.changes.push_back(Change::Accepted {
            cid,
            class: LeaveRequest::PIN,
        });
        self.changes.push_back(Change::Request(cid));
        Outcome::Done
    }

    /// The current chain, newest first, down to (and including) `stop` or the genesis.
    fn chain_until(&self, stop: &Cid) -> impl Iterator<Item = &crate::epoch::Epoch> {
        let mut next = self.best;
        let mut done = false;
        core::iter::from_fn(move || {
            if done {
                return None;
            }
            let epoch = self.epochs.get(&next?)?;
            done = epoch.cid == *stop;
            next = epoch.state.prev;
            Some(epoch)
        })
    }

    /// Joins no admin has acted on: valid request and invite, the joiner not in the
    /// current epoch and in no epoch of the current chain since the invite. Order and
    /// duplicates of the blocks do not matter.
    #[must_use]
    pub fn pending_joins(&self) -> Vec<PendingJoin> {
        let mut out: Vec<PendingJoin> = Vec::new();
        for (cid, request) in &self.joins {
            let Some(invite) = self.invites.get(&request.invite) else {
                continue;
            };
            let actor = request.member.actor;
            let joined = self
                .chain_until(&invite.epoch_state)
                .filter(|e| e.cid != invite.epoch_state)
                .any(|e| e.members.contains(&actor));
            let already = out.iter().any(|p| p.request.member.actor == actor);
            if !joined && !already && self.current().is_some_and(|c| !c.members.contains(&actor)) {
                out.push(PendingJoin {
                    cid: *cid,
                    request: request.clone(),
                    invite: invite.clone(),
                });
            }
        }
        out
    }

    /// Members who asked to leave and are still in: in every epoch of the current chain
    /// since their request.
    #[must_use]
    pub fn pending_leaves(&self) -> Vec<ActorId> {
        let mut out: Vec<ActorId> = Vec::new();
        for leave in self.leaves.values() {
            let still_in = self
                .chain_until(&leave.epoch_state)
                .all(|e| e.members.contains(&leave.actor));
            let on_chain = self
                .chain_until(&leave.epoch_state)
                .any(|e| e.cid == leave.epoch_state);
            if still_in && on_chain && !out.contains(&leave.actor) {
                out.push(leave.actor);
            }
        }
        out
    }

    /// Valid invites.
    pub fn invites(&self) -> impl Iterator<Item = (&Cid, &GroupInvite)> {
        self.invites.iter()
    }
}
