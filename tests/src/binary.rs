//! Finding the `raft-cli` binary and the cargo target folder from inside a test.
//!
//! `CARGO_BIN_EXE_<name>` is only set for tests of the package that owns the
//! binary, and this crate does not own `raft-cli`. Cargo puts test executables in
//! `target/<profile>/deps/` and binaries in `target/<profile>/`, so the binary is
//! found by walking up from the running test executable.

use std::path::{Path, PathBuf};

use crate::error::HarnessError;

/// Environment variable that overrides the lookup with an explicit path.
pub const BIN_ENV: &str = "RAFT_CLI_BIN";

/// The node binary's file name.
pub const RAFT_CLI: &str = "raft-cli";

/// The `raft-cli` binary for this test run: `$RAFT_CLI_BIN` if set, else the one
/// next to the test executable.
pub fn raft_cli() -> Result<PathBuf, HarnessError> {
    if let Some(path) = std::env::var_os(BIN_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(HarnessError::BinaryNotFound {
                name: RAFT_CLI.into(),
                searched: format!("${BIN_ENV}={}", path.display()),
            })
        };
    }
    let exe = std::env::current_exe().map_err(|e| HarnessError::io("locating the test executable", e))?;
    find_binary_near(&exe, RAFT_CLI)
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

    #[test]
    fn target_dir_contains_the_test_executable() {
        let target = target_dir().expect("test executables live in a target folder");
        assert!(std::env::current_exe().unwrap().starts_with(&target));
    }
}
