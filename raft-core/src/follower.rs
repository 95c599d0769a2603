//! The follower's side of AppendEntries (§5.3) and InstallSnapshot
//! (Figure 13).

use crate::error::Error;
use crate::message::{
    AppendEntries, AppendEntriesResponse, AppendResult, ConflictHint, InstallSnapshot, InstallSnapshotResponse,
    MessageBody,
};
use crate::node::RaftNode;
use crate::ready::Event;
use crate::storage::Storage;
use crate::types::{Entry, EntryPayload, LogId, LogIndex, NodeId, Term};

/// Why an AppendEntries is malformed, if it is. Every index must have a
/// successor (`< u64::MAX`), so no log arithmetic can overflow later.
fn malformed(ae: &AppendEntries, msg_term: Term) -> Option<&'static str> {
    let mut prev = ae.prev_log_id;
    if prev.index.checked_next().is_none() {
        return Some("prev_log_id index out of range");
    }
    for e in &ae.entries {
        if Some(e.index) != prev.index.checked_next() {
            return Some("entries are not consecutive after prev_log_id");
        }
        if e.index.checked_next().is_none() {
            return Some("entry index out of range");
        }
        if e.term < prev.term {
            return Some("entry terms decrease");
        }
        if e.term > msg_term {
            return Some("entry term is newer than the leader's term");
        }
        prev = e.log_id();
    }
    None
}

/// Entries up to our commit index are in every later leader's log (Leader
/// Completeness, §5.4), so an append reaching back before it is trimmed to
/// start at the commit index. Returns false if nothing new remains.
fn skip_committed_prefix(ae: &mut AppendEntries, committed: LogIndex) -> bool {
    if ae.prev_log_id.index >= committed {
        return true;
    }
    let skip = (committed.0 - ae.prev_log_id.index.0) as usize;
    if skip >= ae.entries.len() {
        return false;
    }
    ae.prev_log_id = ae.entries[skip - 1].log_id();
    ae.entries.drain(..skip);
    true
}

impl<S: Storage> RaftNode<S> {
    pub(crate) fn handle_append(&mut self, from: NodeId, mut ae: AppendEntries) -> Result<(), Error> {
        self.election_elapsed = 0;
        if let Some(reason) = malformed(&ae, self.term) {
            tracing::warn!(node = self.id().0, term = self.term.0, from = from.0, reason, "malformed append ignored");
            return Ok(());
        }
        let committed = self.log.committed();
        if !skip_committed_prefix(&mut ae, committed) {
            self.reply_append(from, ae.read_round, AppendResult::Success { match_index: committed });
            return Ok(());
        }
        let last = self.log.last_index();
        let prev = ae.prev_log_id;
        if prev.index > last {
            let hint = ConflictHint { rejected_index: prev.index, conflict_term: None, first_index: last.next() };
            tracing::debug!(
                node = self.id().0,
                term = self.term.0,
                index = prev.index.0,
                "append rejected: log too short"
            );
            self.reply_append(from, ae.read_round, AppendResult::Conflict(hint));
            return Ok(());
        }
        let local = self.log.term(prev.index)?;
        if local != prev.term {
            if prev.index <= committed {
                tracing::error!(
                    node = self.id().0,
                    term = self.term.0,
                    index = prev.index.0,
                    "leader disagrees with a committed entry; append ignored"
                );
                return Ok(());
            }
            let hint = ConflictHint {
                rejected_index: prev.index,
                conflict_term: Some(local),
                first_index: self.first_index_of_term(prev.index, local)?,
            };
            tracing::debug!(
                node = self.id().0,
                term = self.term.0,
                index = prev.index.0,
                "append rejected: term mismatch"
            );
            self.reply_append(from, ae.read_round, AppendResult::Conflict(hint));
            return Ok(());
        }
        let match_index = LogIndex(prev.index.0 + ae.entries.len() as u64);
        if !self.append_new_entries(ae.entries)? {
            return Ok(());
        }
        // Figure 2 rule 5: commit = min(leaderCommit, index of last new entry).
        let new_commit = ae.leader_commit.min(match_index);
        if self.log.commit_to(new_commit) {
            let term = self.log.term(new_commit)?;
            tracing::trace!(node = self.id().0, term = self.term.0, index = new_commit.0, "commit advanced");
            self.events.push(Event::Committed { index: new_commit, term });
        }
        self.reply_append(from, ae.read_round, AppendResult::Success { match_index });
        Ok(())
    }

    /// Appends what is new in `entries` (all of which follow a matching
    /// prev), truncating at the first conflicting entry (§5.3 step 3).
    /// Returns false (and changes nothing) if that would rewrite a
    /// committed entry.
    fn append_new_entries(&mut self, entries: Vec<Entry>) -> Result<bool, Error> {
        let last = self.log.last_index();
        let mut start = entries.len();
        for (k, e) in entries.iter().enumerate() {
            if e.index > last || self.log.term(e.index)? != e.term {
                start = k;
                break;
            }
        }
        if start == entries.len() {
            return Ok(true);
        }
        let new: Vec<Entry> = entries.into_iter().skip(start).collect();
        let first = new[0].index;
        if first <= self.log.committed() {
            tracing::error!(
                node = self.id().0,
                term = self.term.0,
                index = first.0,
                "append conflicts with a committed entry; ignored"
            );
            return Ok(false);
        }
        if first <= last {
            tracing::info!(node = self.id().0, term = self.term.0, index = first.0, "truncating conflicting suffix");
            self.members.truncate_from(first);
        }
        for e in &new {
            if let EntryPayload::Membership(m) = &e.payload {
                tracing::info!(
                    node = self.id().0,
                    term = self.term.0,
                    index = e.index.0,
                    ?m,
                    "membership entry received"
                );
                self.members.push(e.index, m.clone());
            }
        }
        self.log.truncate_and_append(new);
        Ok(true)
    }

    /// The first index of the run of `term` entries ending at `index`
    /// (bounded below by the commit index), for the conflict hint.
    fn first_index_of_term(&self, index: LogIndex, term: Term) -> Result<LogIndex, Error> {
        let floor = self.log.committed().next();
        let mut i = index;
        while i > floor && self.log.term(i.prev())? == term {
            i = i.prev();
        }
        Ok(i)
    }

    fn reply_append(&mut self, to: NodeId, read_round: u64, result: AppendResult) {
        let body = MessageBody::AppendEntriesResponse(AppendEntriesResponse { result, read_round });
        self.respond(to, self.term, body);
    }

    /// InstallSnapshot (Figure 13): ignored if it adds nothing to what we
    /// have committed; otherwise installed in the next Ready.
    pub(crate) fn handle_snapshot(&mut self, from: NodeId, msg_term: Term, is: InstallSnapshot) -> Result<(), Error> {
        self.election_elapsed = 0;
        let snap = is.snapshot;
        let id: LogId = snap.meta.last_log_id;
        if id.term > msg_term || snap.meta.membership.voters.is_empty() || id.index.checked_next().is_none() {
            tracing::warn!(node = self.id().0, term = self.term.0, from = from.0, "malformed snapshot ignored");
            return Ok(());
        }
        let committed = self.log.committed();
        if id.index <= committed {
            tracing::debug!(node = self.id().0, term = self.term.0, index = id.index.0, "stale snapshot ignored");
            let body = MessageBody::InstallSnapshotResponse(InstallSnapshotResponse { last_index: committed });
            self.respond(from, self.term, body);
            return Ok(());
        }
        if self.log.truncation_pending_through(id.index) {
            // The store still holds entries we replaced at or below the
            // snapshot index, so which suffix it would keep (Figure 13
            // rule 6) is unknown. The truncation goes out in the next Ready;
            // the leader re-sends the snapshot after that.
            tracing::debug!(node = self.id().0, term = self.term.0, index = id.index.0, "snapshot deferred");
            return Ok(());
        }
        let keep_suffix = self.log.matches(id);
        tracing::info!(node = self.id().0, term = self.term.0, index = id.index.0, keep_suffix, "installing snapshot");
        self.members.reset_to_snapshot(id.index, snap.meta.membership.clone());
        if !keep_suffix {
            // Figure 13 rule 7: discard the entire log.
            self.members.truncate_from(id.index.next());
        }
        self.log.restore(snap)?;
        self.events.push(Event::Committed { index: id.index, term: id.term });
        let body = MessageBody::InstallSnapshotResponse(InstallSnapshotResponse { last_index: id.index });
        self.respond(from, self.term, body);
        Ok(())
    }
}

#[cfg(test)]
#[path = "follower_tests.rs"]
mod tests;
