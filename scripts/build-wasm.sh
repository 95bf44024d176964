#!/usr/bin/env bash
# Builds the portable core (palisade-lang and palisade-engine) for wasm32-unknown-unknown.
# Uses a rustup wasm32 target when one is installed; otherwise Debian's rustc-web toolchain
# with -Zbuild-std (see ../shared/notes/wasm-toolchain.md). Usage: scripts/build-wasm.sh [crate...]
set -euo pipefail
cd "$(dirname "$0")/.."
crates=("$@")
[ ${#crates[@]} -eq 0 ] && crates=(palisade-lang palisade-engine)
args=()
for c in "${crates[@]}"; do args+=(-p "$c"); done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/wasm}"
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "using rustup's wasm32-unknown-unknown target"
  cargo build --release --target wasm32-unknown-unknown "${args[@]}"
else
  for tool in /usr/bin/rustc /usr/bin/cargo wasm-ld-22; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install rustc-web cargo-web rust-web-src lld-22" >&2; exit 2; }
  done
  echo "using Debian's rustc-web with -Zbuild-std"
  RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTFLAGS="-C linker=wasm-ld-22" \
    /usr/bin/cargo build --release -Zbuild-std=std,panic_abort --target wasm32-unknown-unknown "${args[@]}"
fi
ls -l "$CARGO_TARGET_DIR"/wasm32-unknown-unknown/release/*.rlib
