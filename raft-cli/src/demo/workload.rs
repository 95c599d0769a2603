//! The demo's client: one session writing `demo/key-NN` keys at a steady,
//! readable pace, remembering every acknowledged write in the [`AckLog`].
//!
//! Keys are reused (a small key space) so that verification checks "the
//! last acknowledged value", not just presence.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::acklog::AckLog;
use super::cluster_io;
use super::event::DemoEvent;

/// Distinct keys the workload cycles through.
pub const KEYS: u64 = 32;
/// Pause between writes: about 20 writes a second, enough to see
/// replication move and few enough to read.
const PACE: Duration = Duration::from_millis(50);
/// Counters are reported to the narrator after this many writes.
const REPORT_EVERY: u64 = 10;

/// How one write ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Committed and applied: it must survive.
    Acked,
    /// No definite answer: it may or may not have been applied.
    Unknown,
    /// Definitely not applied (e.g. rejected as invalid or overloaded).
    NotApplied,
}

/// The key and value of write number `n`.
pub fn nth_write(n: u64) -> (String, Vec<u8>) {
    (format!("demo/key-{:02}", n % KEYS), format!("value-{n}").into_bytes())
}

/// Starts the workload against the cluster at `endpoints`.
pub fn spawn(
    endpoints: Vec<String>,
    acks: Arc<Mutex<AckLog>>,
    events: mpsc::Sender<DemoEvent>,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let client = cluster_io::DemoClient::new(endpoints);
        let put = move |key: String, value: Vec<u8>| {
            let client = client.clone();
            async move { client.put(key, value).await }
        };
        run(put, acks, events, stop).await;
    })
}

/// Issues writes one at a time until `stop` turns true.
pub async fn run<F, Fut>(
    put: F,
    acks: Arc<Mutex<AckLog>>,
    events: mpsc::Sender<DemoEvent>,
    mut stop: watch::Receiver<bool>,
) where
    F: Fn(String, Vec<u8>) -> Fut,
    Fut: Future<Output = WriteOutcome>,
{
    let mut n = 0u64;
    while !*stop.borrow() {
        let (key, value) = nth_write(n);
        let outcome = tokio::select! {
            outcome = put(key.clone(), value.clone()) => outcome,
            _ = stop.changed() => WriteOutcome::Unknown,
        };
        let (acked, unknown) = {
            let mut log = acks.lock().expect("ack log lock poisoned");
            match outcome {
                WriteOutcome::Acked => log.ack(&key, value),
                WriteOutcome::Unknown => log.unknown(&key, value),
                WriteOutcome::NotApplied => {}
            }
            (log.acked_writes(), log.unknown_writes())
        };
        n += 1;
        if n % REPORT_EVERY == 0 {
            let _ = events.try_send(DemoEvent::Workload { acked, unknown });
        }
        tokio::select! {
            _ = tokio::time::sleep(PACE) => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn acknowledged_and_unknown_writes_are_remembered_until_stopped() {
        let acks = Arc::new(Mutex::new(AckLog::default()));
        let (events_tx, mut events_rx) = mpsc::channel(100);
        let (stop_tx, stop_rx) = watch::channel(false);
        let put = |_key: String, value: Vec<u8>| async move {
            match value.last() {
                Some(b'3') => WriteOutcome::Unknown,
                Some(b'7') => WriteOutcome::NotApplied,
                _ => WriteOutcome::Acked,
            }
        };
        let task = tokio::spawn(run(put, acks.clone(), events_tx, stop_rx));
        let report = tokio::time::timeout(Duration::from_secs(10), events_rx.recv()).await.unwrap().unwrap();
        assert_eq!(report, DemoEvent::Workload { acked: 8, unknown: 1 }, "writes 0..10: 3 unknown, 7 rejected");
        stop_tx.send_replace(true);
        tokio::time::timeout(Duration::from_secs(10), task).await.unwrap().unwrap();
        let log = acks.lock().unwrap();
        let (key, value) = nth_write(0);
        assert_eq!(log.expected(&key), Some(&value[..]));
        assert!(log.expected(&nth_write(7).0).is_none(), "a rejected write is not expected");
    }

    #[test]
    fn keys_cycle_through_a_small_space() {
        assert_eq!(nth_write(1).0, nth_write(1 + KEYS).0);
        assert_ne!(nth_write(1).1, nth_write(1 + KEYS).1);
    }
}
