# Shared helpers for scripts/demo, scripts/test and scripts/bench. Sourced, not run.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEV_DIR="${STRONGROOM_DEV_DIR:-$ROOT/target/strongroom-dev}"   # scripts/pg honours it too
# STRONGROOM_PROFILE=release builds and runs optimized binaries (scripts/bench does).
PROFILE=${STRONGROOM_PROFILE:-debug}
BIN_DIR="$ROOT/target/$PROFILE"
mkdir -p "$DEV_DIR"
# Dev and test builds of the workspace: the enclave's NSM simulator is off by
# default (a release image must not contain it), so every dev build names it.
# One feature set for clippy, the binaries, nextest and doc tests, so cargo
# never rebuilds target/debug/strongroom-enclave back and forth.
DEV_FEATURES=(--features strongroom-enclave/dev-simulator)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Rust toolchain: the pinned one from rust-toolchain.toml (rustup installs it on first use).
need_cargo() {
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install rustup (https://rustup.rs) first"
}

# Build every binary of the workspace once (debug profile, shared with the
# tests), with the simulator: the demo and the benchmarks run
# `strongroom-enclave --dev-simulator`.
build_bins() {
  need_cargo
  say "building the workspace binaries (with the NSM simulator)"
  (cd "$ROOT" && cargo build --locked --workspace --bins --quiet "${DEV_FEATURES[@]}" \
    $([ "$PROFILE" = release ] && echo --release))
}

# Starts (or reuses) PostgreSQL; exports DATABASE_URL.
start_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    say "using DATABASE_URL from the environment"
    return
  fi
  # Stop it at the end only if this script started it (another run may share it).
  if ! "$ROOT/scripts/pg" status >/dev/null 2>&1; then
    STARTED_POSTGRES=1
  fi
  "$ROOT/scripts/pg" start >&2
  DATABASE_URL=$("$ROOT/scripts/pg" url)
  DATABASE_URL=${DATABASE_URL#DATABASE_URL=}
  export DATABASE_URL
  OWN_CLUSTER=1
}

stop_postgres() {
  if [ "${STARTED_POSTGRES:-0}" = 1 ]; then
    "$ROOT/scripts/pg" stop >&2 || true
  fi
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for CMD... : retries CMD for up to 30 s.
wait_for() {
  local i
  for i in $(seq 1 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

# Python venv with the outside-check libraries (cbor2, cryptography, pyhpke).
python_venv() {
  local venv="$ROOT/target/pyenv"
  if [ ! -x "$venv/bin/python" ]; then
    say "creating the Python venv for outside checks"
    python3 -m venv "$venv" >&2
  fi
  if ! "$venv/bin/python" -c 'import cbor2, cryptography, pyhpke' >/dev/null 2>&1; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/checks/requirements.txt" >&2
  fi
  export STRONGROOM_PYTHON="$venv/bin/python"
}

# Debian packages the build and the tests need; installed only when missing.
ensure_debian_packages() {
  local missing=()
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  [ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)   # EIF builder's format crate
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
  # The verification page's tests drive headless Chromium (host/tests/browser.rs).
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    [ "$(id -u)" = 0 ] || die "need root (or sudo) to install: ${missing[*]}"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  fi
}
