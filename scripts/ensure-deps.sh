#!/usr/bin/env bash
# Installs what building this workspace needs beyond a Rust toolchain, on
# Debian/Ubuntu: a C++ compiler and libclang (RocksDB's build runs bindgen).
# iptables and iproute2 are for the network-fault tests (root only).
# It says what it installs and does nothing when everything is present.
# Other systems: install clang/libclang and a C++ compiler with your package
# manager, then run cargo directly.
set -euo pipefail

need=()
have_libclang() {
    # Any one of these is enough for bindgen; `compgen -G` tests each glob alone.
    local g
    for g in '/usr/lib/llvm-*/lib/libclang*.so*' '/usr/lib/*-linux-gnu/libclang*.so*'; do
        compgen -G "$g" >/dev/null && return 0
    done
    return 1
}
have_libclang || need+=(libclang-dev)
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
if [ "$(id -u)" = 0 ]; then
    command -v iptables >/dev/null 2>&1 || need+=(iptables)
    command -v ip >/dev/null 2>&1 || need+=(iproute2)
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
echo "ensure-deps: installing ${need[*]} (needed to build RocksDB / run fault tests)" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
