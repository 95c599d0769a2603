//! The benchmark's progress bar: elapsed time against the duration, with the
//! operation count and the current rate. Drawn on stderr, and hidden when
//! stderr is not a terminal or the report is JSON, so scripts see only data.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Redraw period.
const TICK: Duration = Duration::from_millis(200);

/// A running progress display; stops when dropped or [`Progress::finish`]ed.
pub struct Progress {
    bar: ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

/// `"12345 ops, 6172 ops/s"`.
pub fn rate_message(ops: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { ops as f64 / secs } else { 0.0 };
    format!("{ops} ops, {rate:.0} ops/s")
}

impl Progress {
    /// Starts drawing; `done` is the shared completed-operations counter.
    pub fn start(duration: Duration, done: Arc<AtomicU64>, visible: bool) -> Self {
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1);
        let target = if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(Some(millis), target);
        let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        let shown = bar.clone();
        let start = Instant::now();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            loop {
                tick.tick().await;
                let elapsed = start.elapsed();
                shown.set_position(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX).min(millis));
                shown.set_message(rate_message(done.load(Ordering::Relaxed), elapsed));
            }
        });
        Progress { bar, task }
    }

    /// Stops and clears the bar.
    pub fn finish(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_ops_over_elapsed_seconds() {
        assert_eq!(rate_message(500, Duration::from_secs(2)), "500 ops, 250 ops/s");
        assert_eq!(rate_message(0, Duration::ZERO), "0 ops, 0 ops/s");
    }

    #[tokio::test]
    async fn a_hidden_bar_still_tracks_position() {
        let done = Arc::new(AtomicU64::new(0));
        let p = Progress::start(Duration::from_secs(1), done.clone(), false);
        done.fetch_add(3, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(10);
        while p.bar.message().is_empty() || !p.bar.message().starts_with("3 ops") {
            assert!(Instant::now() < deadline, "progress message never updated: {:?}", p.bar.message());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        p.finish();
    }
}
