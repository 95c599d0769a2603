//! The folder one test run keeps its evidence in: node logs, node data,
//! recorded histories. Deleted when the test passes, kept (and printed) when it
//! panics, so a failure can be replayed and its logs read.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{HarnessError, NodeId};
use crate::linearizability::History;

/// Environment variable naming the folder runs are created in.
pub const RUNS_DIR_ENV: &str = "RAFT_TEST_RUNS_DIR";

/// Environment variable that keeps run folders even when tests pass.
pub const KEEP_ENV: &str = "RAFT_TEST_KEEP_RUNS";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A per-test run folder; see the module docs for its lifetime.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    keep: bool,
}

impl RunDir {
    /// Creates `<base>/<test_name>-<unix time>-<pid>-<n>` where base is
    /// `$RAFT_TEST_RUNS_DIR`, else `<cargo target>/test-runs`, else the temp folder.
    pub fn create(test_name: &str) -> Result<Self, HarnessError> {
        let base = match std::env::var_os(RUNS_DIR_ENV) {
            Some(dir) => PathBuf::from(dir),
            None => crate::binary::target_dir().unwrap_or_else(std::env::temp_dir).join("test-runs"),
        };
        Self::create_in(&base, test_name)
    }

    /// Creates a run folder under `base`.
    pub fn create_in(base: &Path, test_name: &str) -> Result<Self, HarnessError> {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let safe: String =
            test_name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let path = base.join(format!("{safe}-{secs}-{}-{n}", std::process::id()));
        for sub in ["logs", "data", "histories"] {
            std::fs::create_dir_all(path.join(sub))
                .map_err(|e| HarnessError::io(format!("creating run folder {}", path.display()), e))?;
        }
        let keep = std::env::var_os(KEEP_ENV).is_some();
        Ok(RunDir { path, keep })
    }

    /// The run folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The log file of node `id` (its stdout and stderr).
    pub fn node_log(&self, id: NodeId) -> PathBuf {
        self.path.join("logs").join(format!("node-{id}.log"))
    }

    /// The data folder of node `id` (passed as `--data-dir`).
    pub fn node_data(&self, id: NodeId) -> PathBuf {
        self.path.join("data").join(id.to_string())
    }

    /// Saves `history` as `histories/<name>.json` and returns its path.
    pub fn save_history(&self, name: &str, history: &History) -> Result<PathBuf, HarnessError> {
        let path = self.path.join("histories").join(format!("{name}.json"));
        history.save(&path)?;
        Ok(path)
    }

    /// Writes `contents` to `<name>` in the run folder (e.g. the nemesis schedule).
    pub fn write(&self, name: &str, contents: &str) -> Result<PathBuf, HarnessError> {
        let path = self.path.join(name);
        std::fs::write(&path, contents).map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))?;
        Ok(path)
    }

    /// Keeps the folder even if the test passes.
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.keep || std::thread::panicking() {
            eprintln!("run folder kept: {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::{Op, Operation, Output};

    #[test]
    fn run_folder_is_removed_when_the_test_passes() {
        let base = tempfile::tempdir().unwrap();
        let run = RunDir::create_in(base.path(), "passing test").unwrap();
        let path = run.path().to_path_buf();
        assert!(path.join("logs").is_dir() && path.join("data").is_dir());
        assert!(path.file_name().unwrap().to_str().unwrap().starts_with("passing_test-"));
        drop(run);
        assert!(!path.exists() || std::env::var_os(KEEP_ENV).is_some());
    }

    #[test]
    fn run_folder_is_kept_when_the_test_panics() {
        let base = tempfile::tempdir().unwrap();
        let base_path = base.path().to_path_buf();
        let path = std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            let _ = s
                .spawn(move || {
                    let run = RunDir::create_in(&base_path, "failing").unwrap();
                    tx.send(run.path().to_path_buf()).unwrap();
                    panic!("simulated test failure");
                })
                .join();
            rx.recv().unwrap()
        });
        assert!(path.is_dir());
    }

    #[test]
    fn histories_are_saved_under_the_run_folder() {
        let base = tempfile::tempdir().unwrap();
        let run = RunDir::create_in(base.path(), "h").unwrap();
        let h = History::new(vec![Operation::completed(1, Op::Get { key: "k".into() }, 0, 1, Output::Value(None))]);
        let path = run.save_history("clients", &h).unwrap();
        assert!(path.starts_with(run.path()));
        assert_eq!(History::load(&path).unwrap(), h);
    }
}
