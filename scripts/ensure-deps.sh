#!/usr/bin/env bash
# Installs what building this workspace needs beyond a Rust toolchain, on
# Debian/Ubuntu: a C++ compiler and libclang (RocksDB's build runs bindgen,
# which loads libclang at run time and needs clang's own headers).
# iptables and iproute2 are for the network-fault tests, chromium for the
# browser test of the web view (tests/tests/web_view.rs); root only.
# It says what it installs and does nothing when everything is present.
# Other systems: install clang/libclang and a C++ compiler with your package
# manager, then run cargo directly.
#
# Testing hooks (used by tests/tests/ensure_deps.rs):
#   ENSURE_DEPS_ROOT=DIR   look for libclang under DIR instead of /
#   ENSURE_DEPS_CHECK=1    only print "missing: PKG ..." (or "missing: none")
#                          and exit 0; install nothing
set -euo pipefail

root="${ENSURE_DEPS_ROOT:-}"

# True when FILE's name is one bindgen (clang-sys, runtime linking) loads:
# libclang.so, libclang-*.so, libclang.so.*, libclang-*.so.*. libclang-cpp
# (the C++ API, shipped by libclang-cpp14 and friends) matches the glob
# libclang-*.so.* too but is NOT libclang: clang-sys skips it, so must we.
is_libclang_name() {
    case "$1" in
        libclang-cpp*) return 1 ;;
        libclang.so | libclang-*.so | libclang.so.* | libclang-*.so.*) return 0 ;;
    esac
    return 1
}

# True when DIR holds a file bindgen would load.
dir_has_libclang() {
    local f
    [ -d "$1" ] || return 1
    for f in "$1"/libclang*; do
        [ -e "$f" ] && is_libclang_name "$(basename "$f")" && return 0
    done
    return 1
}

# The library: LIBCLANG_PATH when set (a directory or the file itself), else
# the directories clang-sys searches on Linux (/usr/local/lib*,
# /usr/local/llvm*, /usr/lib*, /usr/lib*/*, /usr/lib*/*/*).
have_libclang_library() {
    if [ -n "${LIBCLANG_PATH:-}" ]; then
        if [ -f "$LIBCLANG_PATH" ]; then
            is_libclang_name "$(basename "$LIBCLANG_PATH")" && return 0
        else
            dir_has_libclang "$LIBCLANG_PATH" && return 0
        fi
    fi
    local d
    for d in "$root"/usr/local/lib* "$root"/usr/local/llvm* \
        "$root"/usr/lib* "$root"/usr/lib*/* "$root"/usr/lib*/*/*; do
        dir_has_libclang "$d" && return 0
    done
    return 1
}

# clang's resource headers (stddef.h and friends, from libclang-common-*-dev):
# without them bindgen fails on RocksDB's `#include <stddef.h>`.
have_clang_headers() {
    compgen -G "$root/usr/lib/llvm-*/lib/clang/*/include/stddef.h" >/dev/null && return 0
    compgen -G "$root/usr/lib/clang/*/include/stddef.h" >/dev/null && return 0
    compgen -G "$root/usr/local/lib/clang/*/include/stddef.h" >/dev/null && return 0
    return 1
}

need=()
if ! have_libclang_library || ! have_clang_headers; then
    need+=(libclang-dev)
fi

if [ "${ENSURE_DEPS_CHECK:-}" = 1 ]; then
    echo "missing: ${need[*]:-none}"
    exit 0
fi

command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
if [ "$(id -u)" = 0 ]; then
    command -v iptables >/dev/null 2>&1 || need+=(iptables)
    command -v ip >/dev/null 2>&1 || need+=(iproute2)
    # Debian's chromium: ~100 MB with its libraries, 1-2 min to download and
    # unpack on a fresh machine (once; later runs find it).
    [ -x /usr/bin/chromium ] || [ -x /usr/bin/chromium-browser ] || need+=(chromium)
fi

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-deps: missing ${need[*]} and no apt-get here; install them with your package manager" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "ensure-deps: missing ${need[*]}; run as root or install them: apt-get install -y ${need[*]}" >&2
        exit 1
    fi
fi
echo "ensure-deps: installing ${need[*]} (needed to build RocksDB / run fault and browser tests)" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2

# Check again: an install that "succeeded" without giving bindgen a libclang
# would otherwise surface five minutes later as a build error.
if ! have_libclang_library || ! have_clang_headers; then
    echo "ensure-deps: libclang-dev is installed but no libclang.so / clang headers were found;" \
        "set LIBCLANG_PATH to the directory holding libclang.so" >&2
    exit 1
fi
