//! Visible skips. A test that cannot run here (not root, no `ip`) passes, and
//! `cargo test` hides the `skipped:` line it prints — so the reason is also
//! written to `<target>/test-skips/<test name>`, which `scripts/test.sh` lists
//! in a summary after the run.

use std::path::PathBuf;

/// Folder (under the cargo target folder) holding one file per skipped test.
pub const SKIP_DIR: &str = "test-skips";

/// Prints `skipped: <why>` and records the skip for the summary. `test` names
/// the test (for the file name); `None` takes the test thread's name.
pub fn record(test: Option<&str>, why: &str) {
    let thread = std::thread::current();
    let name = test.or(thread.name()).filter(|n| *n != "main").unwrap_or("unnamed-test");
    eprintln!("skipped: {why}");
    let Some(dir) = skip_dir() else { return };
    let file = dir.join(name.replace("::", "__"));
    let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, format!("{name}: {why}\n")));
    if let Err(e) = written {
        eprintln!("could not record the skip in {}: {e}", file.display());
    }
}

/// `<target>/test-skips`, if the target folder can be told.
pub fn skip_dir() -> Option<PathBuf> {
    Some(crate::binary::target_dir()?.join(SKIP_DIR))
}
