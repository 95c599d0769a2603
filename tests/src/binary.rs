//! Finding the `raft-cli` binary and the cargo target folder from inside a test.
//!
//! `CARGO_BIN_EXE_<name>` is only set for tests of the package that owns the
//! binary, and this crate does not own `raft-cli`. Cargo puts test executables in
//! `target/<profile>/deps/` and binaries in `target/<profile>/`, so the binary is
//! found by walking up from the running test executable.
//!
//! Found is not enough: `cargo test -p raft-tests` does not build `raft-cli`
//! (only `cargo test --workspace` builds every binary first), so an old binary
//! would be tested against new sources. [`check_fresh`] reads the dep-info file
//! cargo writes next to the binary (`raft-cli.d`: every source file it was
//! built from) and fails if any of them, or any `.proto` of this workspace, is
//! newer than the binary, or if it was built from another checkout.

use std::path::{Path, PathBuf};

use crate::error::HarnessError;

/// Environment variable that overrides the lookup with an explicit path.
pub const BIN_ENV: &str = "RAFT_CLI_BIN";

/// The node binary's file name.
pub const RAFT_CLI: &str = "raft-cli";

/// The `raft-cli` binary for this test run: `$RAFT_CLI_BIN` if set, else the one
/// next to the test executable; either way checked with [`check_fresh`].
pub fn raft_cli() -> Result<PathBuf, HarnessError> {
    let path = match std::env::var_os(BIN_ENV) {
        Some(path) => {
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(HarnessError::BinaryNotFound {
                    name: RAFT_CLI.into(),
                    searched: format!("${BIN_ENV}={}", path.display()),
                });
            }
            path
        }
        None => {
            let exe = std::env::current_exe().map_err(|e| HarnessError::io("locating the test executable", e))?;
            find_binary_near(&exe, RAFT_CLI)?
        }
    };
    check_fresh(&path, &workspace_root())?;
    Ok(path)
}

/// The workspace this test crate belongs to.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("invariant: tests/ sits in the workspace root").to_path_buf()
}

/// Fails unless `bin` was built from `workspace`'s current sources: its
/// dep-info file (`<bin>.d`, written by cargo) must exist, must name
/// `<workspace>/raft-cli/src/main.rs`, and no file it names — nor any
/// `<workspace>/proto/*.proto` — may be newer than `bin`.
pub fn check_fresh(bin: &Path, workspace: &Path) -> Result<(), HarnessError> {
    let stale = |why: String| HarnessError::StaleBinary { bin: bin.to_path_buf(), why };
    let dep_info = bin.with_extension("d");
    let main = workspace.join("raft-cli").join("src").join("main.rs");
    let mut read_any = false;
    let mut found = None;
    for candidate in dep_info_candidates(bin) {
        let Ok(text) = std::fs::read_to_string(&candidate) else { continue };
        read_any = true;
        // Hashed dep-info under deps/ names workspace files relative to the
        // workspace root (as rustc was invoked); the uplifted one is absolute.
        let sources: Vec<PathBuf> = dep_info_sources(&text).into_iter().map(|p| workspace.join(p)).collect();
        if sources.contains(&main) {
            found = Some(sources);
            break;
        }
    }
    let Some(sources) = found else {
        return Err(stale(if read_any {
            format!("it was not built from this checkout ({} is not among its sources)", main.display())
        } else {
            format!("cannot read its dep-info file {}", dep_info.display())
        }));
    };
    let built = mtime(bin).ok_or_else(|| stale("cannot read its modification time".into()))?;
    let protos = std::fs::read_dir(workspace.join("proto"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "proto"));
    for source in sources.iter().cloned().chain(protos) {
        match mtime(&source) {
            Some(t) if t > built => return Err(stale(format!("{} changed after it was built", source.display()))),
            Some(_) => {}
            None => return Err(stale(format!("its source {} is gone", source.display()))),
        }
    }
    Ok(())
}

/// Dep-info files that may describe `bin`: `<bin>.d`, then the hashed
/// `deps/<crate>-<hash>.d` of every hashed executable that is `bin` itself.
/// Cargo hard-links `<profile>/<bin>` to `deps/<crate>-<hash>` but writes
/// `<bin>.d` only for what a build was asked for (`cargo build -p raft-cli`,
/// not the binaries `cargo test --workspace` builds for integration tests),
/// and never rewrites it for a build that was already fresh. The hashed
/// one names files relative to the workspace root, so it cannot tell two
/// checkouts that share a target folder apart; the mtime check still holds.
fn dep_info_candidates(bin: &Path) -> Vec<PathBuf> {
    let mut out = vec![bin.with_extension("d")];
    let (Some(dir), Some(name)) = (bin.parent(), bin.file_name().and_then(|n| n.to_str())) else { return out };
    let prefix = format!("{}-", name.replace('-', "_"));
    let Ok(entries) = std::fs::read_dir(dir.join("deps")) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_exe =
            path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && !n.contains('.'));
        if is_exe && same_file(&path, bin) {
            out.push(path.with_extension("d"));
        }
    }
    out
}

#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &Path, _: &Path) -> bool {
    false
}

/// The prerequisites listed in a Makefile-style dep-info file (`target: a b\ c`).
pub fn dep_info_sources(text: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in text.lines() {
        // rustc's `# env-dep:NAME=value` lines are comments (a value may
        // hold ": ", e.g. the package description).
        if line.starts_with('#') {
            continue;
        }
        let Some((_, deps)) = line.split_once(": ") else { continue };
        let mut current = String::new();
        let mut chars = deps.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&' ') => current.push(chars.next().expect("peeked")),
                ' ' => {
                    if !current.is_empty() {
                        out.push(PathBuf::from(std::mem::take(&mut current)));
                    }
                }
                c => current.push(c),
            }
        }
        if !current.is_empty() {
            out.push(PathBuf::from(current));
        }
    }
    out
}

fn mtime(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Looks for `name` in the folders from `exe`'s folder up to the profile folder.
pub fn find_binary_near(exe: &Path, name: &str) -> Result<PathBuf, HarnessError> {
    let mut searched = Vec::new();
    for dir in exe.ancestors().skip(1).take(2) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
        searched.push(dir.display().to_string());
    }
    Err(HarnessError::BinaryNotFound { name: name.into(), searched: searched.join(", ") })
}

/// The cargo target folder holding the running test executable, if it can be told.
pub fn target_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let mut dir = exe.parent()?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent()?;
    }
    Some(dir.parent()?.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_error_says_how_to_build_it() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("debug").join("deps").join("raft_tests-123");
        let err = find_binary_near(&exe, "raft-cli-does-not-exist").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("cargo build -p raft-cli"), "{msg}");
        assert!(msg.contains(&dir.path().join("debug").display().to_string()), "{msg}");
    }

    #[test]
    fn binary_in_the_profile_folder_is_found_from_deps() {
        let dir = tempfile::tempdir().unwrap();
        let deps = dir.path().join("debug").join("deps");
        std::fs::create_dir_all(&deps).unwrap();
        let bin = dir.path().join("debug").join("raft-cli");
        std::fs::write(&bin, b"").unwrap();
        assert_eq!(find_binary_near(&deps.join("raft_tests-123"), "raft-cli").unwrap(), bin);
    }

    fn fake_tree(dir: &Path) -> (PathBuf, PathBuf) {
        let main = dir.join("ws").join("raft-cli").join("src").join("main.rs");
        std::fs::create_dir_all(main.parent().unwrap()).unwrap();
        std::fs::write(&main, "fn main() {}").unwrap();
        let bin = dir.join("debug").join("raft-cli");
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::fs::write(&bin, b"").unwrap();
        let d = format!("{}: {} {}\n", bin.display(), main.display(), dir.join("a\\ b.rs").display());
        std::fs::write(dir.join("a b.rs"), "").unwrap();
        std::fs::write(bin.with_extension("d"), d).unwrap();
        (bin, main)
    }

    fn set_mtime(path: &Path, secs_ago: u64) {
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(secs_ago);
        std::fs::File::options().write(true).open(path).unwrap().set_modified(t).unwrap();
    }

    #[test]
    fn a_binary_older_than_one_of_its_sources_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let (bin, main) = fake_tree(dir.path());
        let ws = dir.path().join("ws");
        set_mtime(&main, 100);
        set_mtime(&dir.path().join("a b.rs"), 100);
        set_mtime(&bin, 50);
        check_fresh(&bin, &ws).unwrap();
        set_mtime(&main, 10);
        let msg = check_fresh(&bin, &ws).unwrap_err().to_string();
        assert!(msg.contains("main.rs changed after it was built") && msg.contains("cargo build -p raft-cli"), "{msg}");
        set_mtime(&main, 100);
        std::fs::create_dir_all(ws.join("proto")).unwrap();
        std::fs::write(ws.join("proto").join("raft.proto"), "").unwrap();
        let msg = check_fresh(&bin, &ws).unwrap_err().to_string();
        assert!(msg.contains("raft.proto changed"), "{msg}");
    }

    #[test]
    fn a_binary_built_from_another_checkout_or_without_dep_info_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (bin, _) = fake_tree(dir.path());
        let msg = check_fresh(&bin, &dir.path().join("other")).unwrap_err().to_string();
        assert!(msg.contains("not built from this checkout"), "{msg}");
        std::fs::remove_file(bin.with_extension("d")).unwrap();
        let msg = check_fresh(&bin, &dir.path().join("ws")).unwrap_err().to_string();
        assert!(msg.contains("dep-info"), "{msg}");
    }

    #[test]
    fn a_hashed_dep_info_of_the_same_file_is_used_when_the_uplifted_one_is_missing() {
        // Cargo rewrites <bin>.d only when it compiles; the hard-linked
        // deps/<crate>-<hash> keeps its own dep-info.
        let dir = tempfile::tempdir().unwrap();
        let (bin, _) = fake_tree(dir.path());
        let deps = bin.parent().unwrap().join("deps");
        std::fs::create_dir_all(&deps).unwrap();
        let hashed = deps.join("raft_cli-0123abcd");
        std::fs::hard_link(&bin, &hashed).unwrap();
        std::fs::remove_file(bin.with_extension("d")).unwrap();
        std::fs::write(hashed.with_extension("d"), format!("{}: raft-cli/src/main.rs\n", hashed.display())).unwrap();
        check_fresh(&bin, &dir.path().join("ws")).expect("found through the hashed dep-info");
        // A hashed build that is another file does not vouch for `bin`.
        std::fs::remove_file(&hashed).unwrap();
        std::fs::write(&hashed, b"other").unwrap();
        let msg = check_fresh(&bin, &dir.path().join("ws")).unwrap_err().to_string();
        assert!(msg.contains("dep-info"), "{msg}");
    }

    #[test]
    fn env_dep_comments_are_not_sources() {
        let text = "x: a.rs\n# env-dep:CARGO_PKG_DESCRIPTION=front end: run nodes\n";
        assert_eq!(dep_info_sources(text), vec![PathBuf::from("a.rs")]);
    }

    #[test]
    fn dep_info_paths_keep_escaped_spaces() {
        let got = dep_info_sources("/t/raft-cli: /a/x.rs /b/with\\ space.rs\n\n/a/x.rs:\n");
        assert_eq!(got, [PathBuf::from("/a/x.rs"), PathBuf::from("/b/with space.rs")]);
    }

    #[test]
    fn target_dir_contains_the_test_executable() {
        let target = target_dir().expect("test executables live in a target folder");
        assert!(std::env::current_exe().unwrap().starts_with(&target));
    }
}
