//! Tests of `scripts/ensure-deps.sh`'s libclang detection (issue #12).
//!
//! A fresh Debian machine with `libclang-cpp14` but no `libclang-dev` once
//! passed the old glob `libclang*.so*`, so nothing was installed and
//! RocksDB's bindgen failed five minutes into the build. Each case lays out a
//! fake root in a temp dir and runs the script's detection against it
//! (`ENSURE_DEPS_ROOT`, `ENSURE_DEPS_CHECK=1`: report, install nothing).

use std::path::{Path, PathBuf};
use std::process::Command;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/ensure-deps.sh")
}

/// Creates empty files at `paths` (relative to `root`).
fn lay_out(root: &Path, paths: &[&str]) {
    for p in paths {
        let full = root.join(p);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, b"").unwrap();
    }
}

/// What the script says is missing for a fake root holding `paths`.
fn missing(paths: &[&str], libclang_path: Option<&str>) -> String {
    let root = tempfile::tempdir().unwrap();
    lay_out(root.path(), paths);
    let mut cmd = Command::new("bash");
    cmd.arg(script()).env("ENSURE_DEPS_ROOT", root.path()).env("ENSURE_DEPS_CHECK", "1").env_remove("LIBCLANG_PATH");
    if let Some(p) = libclang_path {
        cmd.env("LIBCLANG_PATH", root.path().join(p));
    }
    let out = cmd.output().expect("run bash scripts/ensure-deps.sh");
    assert!(out.status.success(), "ensure-deps failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("missing: "))
        .unwrap_or_else(|| panic!("no 'missing:' line in {stdout:?}"))
        .to_string()
}

const HEADERS: &str = "usr/lib/llvm-14/lib/clang/14.0.6/include/stddef.h";

#[test]
fn libclang_cpp_alone_is_not_libclang() {
    // The exact state of the machine in issue #12.
    let got = missing(&["usr/lib/llvm-14/lib/libclang-cpp.so.14", "usr/lib/x86_64-linux-gnu/libclang-cpp.so.14"], None);
    assert_eq!(got, "libclang-dev");
}

#[test]
fn libclang_cpp_with_headers_is_still_missing_the_library() {
    let got = missing(&["usr/lib/llvm-14/lib/libclang-cpp.so.14", HEADERS], None);
    assert_eq!(got, "libclang-dev");
}

#[test]
fn an_empty_machine_needs_libclang_dev() {
    assert_eq!(missing(&[], None), "libclang-dev");
}

#[test]
fn debian_libclang_dev_layout_is_found() {
    // libclang-14-dev: /usr/lib/llvm-14/lib/libclang.so -> libclang-14.so.1.
    let got = missing(&["usr/lib/llvm-14/lib/libclang.so", "usr/lib/llvm-14/lib/libclang-14.so.1", HEADERS], None);
    assert_eq!(got, "none");
}

#[test]
fn every_name_bindgen_loads_is_found() {
    for name in ["libclang.so", "libclang-14.so", "libclang.so.1", "libclang-14.so.1", "libclang-14.0.6.so.1"] {
        let lib = format!("usr/lib/x86_64-linux-gnu/{name}");
        assert_eq!(missing(&[&lib, HEADERS], None), "none", "{name} should count as libclang");
    }
}

#[test]
fn the_library_without_clang_headers_is_not_enough() {
    let got = missing(&["usr/lib/llvm-14/lib/libclang.so.1"], None);
    assert_eq!(got, "libclang-dev");
}

#[test]
fn libclang_path_is_honoured() {
    // A library outside every searched directory, named by LIBCLANG_PATH.
    let got = missing(&["opt/clang/lib/libclang.so", HEADERS], Some("opt/clang/lib"));
    assert_eq!(got, "none");
    let got = missing(&["opt/clang/lib/libclang-cpp.so.14", HEADERS], Some("opt/clang/lib"));
    assert_eq!(got, "libclang-dev");
}
