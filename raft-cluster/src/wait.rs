//! Waiting on conditions with deadlines (never fixed sleeps): tests and
//! [`crate::LocalCluster`] wait for "a leader exists" or "index N applied
//! everywhere" and get a clear error naming the condition on timeout.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often [`wait_until`] re-checks a condition that spans several nodes.
pub const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// A condition did not hold within its deadline.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {waited:?} waiting for {what}; last seen: {last}")]
pub struct WaitError {
    /// The condition.
    pub what: String,
    /// How long was waited.
    pub waited: Duration,
    /// The last observed state, for the failure message.
    pub last: String,
}

/// Re-checks `check` until it yields a value or `deadline` passes. Between
/// checks it awaits `changed()` (a state-change notification) or
/// [`POLL_INTERVAL`], whichever comes first. `describe` renders the last
/// state for the error.
pub async fn wait_until<T, F>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> Option<T>,
    mut changed: impl FnMut() -> F,
    describe: impl Fn() -> String,
) -> Result<T, WaitError>
where
    F: Future<Output = ()>,
{
    let start = Instant::now();
    let end = start + deadline;
    loop {
        if let Some(v) = check() {
            return Ok(v);
        }
        let now = Instant::now();
        if now >= end {
            return Err(WaitError { what: what.to_string(), waited: now - start, last: describe() });
        }
        let nap = POLL_INTERVAL.min(end - now);
        let _ = tokio::time::timeout(nap, changed()).await;
    }
}
