//! The bounded outgoing queue of one peer. When a peer is down the queue
//! fills; the oldest message is then dropped (and counted) instead of
//! growing memory: Raft tolerates loss and the newest messages carry the
//! freshest term and commit index (§5.3 retransmission).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use raft_core::Message;
use tokio::sync::Notify;

/// A bounded FIFO with drop-oldest overflow and an async wake-up.
#[derive(Debug)]
pub(crate) struct PeerQueue {
    /// Invariant: `len() <= capacity`.
    items: Mutex<VecDeque<Message>>,
    capacity: usize,
    notify: Notify,
    dropped: AtomicU64,
    closed: AtomicBool,
}

impl PeerQueue {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        PeerQueue {
            items: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            capacity,
            notify: Notify::new(),
            dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Message>> {
        // A panic while holding this lock cannot leave the deque invalid, so
        // a poisoned lock is still usable.
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Enqueues `msg`, dropping the oldest queued message if full. Returns
    /// true if something was dropped.
    pub(crate) fn push(&self, msg: Message) -> bool {
        let dropped = {
            let mut items = self.lock();
            let dropped = if items.len() >= self.capacity { items.pop_front().is_some() } else { false };
            items.push_back(msg);
            dropped
        };
        if dropped {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.notify.notify_one();
        dropped
    }

    /// Takes up to `max_messages` messages totalling at most `max_bytes`
    /// (at least one message if any is queued), in order.
    pub(crate) fn take_batch(&self, max_messages: usize, max_bytes: u64) -> Vec<Message> {
        let mut items = self.lock();
        let mut out = Vec::new();
        let mut bytes = 0u64;
        while let Some(front) = items.front() {
            let size = front.size_bytes();
            if !out.is_empty() && (out.len() >= max_messages || bytes + size > max_bytes) {
                break;
            }
            bytes += size;
            out.extend(items.pop_front());
        }
        out
    }

    /// Waits until a message is queued or the queue is closed.
    pub(crate) async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_closed() || !self.lock().is_empty() {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}
