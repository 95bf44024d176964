#!/usr/bin/env bash
# Node (WASM) vs native, same run: median ms of one host-API `check` (compile the example
# policies, evaluate the example records), and the ratio. Needs wasm/build.sh first.
set -euo pipefail
cd "$(dirname "$0")/../.."
req=$(mktemp)
python3 - "$req" <<'PY'
import json, sys, pathlib
pol = [{"name": str(p), "text": p.read_text()} for p in sorted(pathlib.Path("examples/policies").glob("*.pal"))]
inp = [{"name": str(p), "text": p.read_text()} for p in sorted(pathlib.Path("examples/records").iterdir())]
json.dump({"policies": pol, "inputs": inp, "now": "2026-11-26T12:00:00Z", "all": True}, open(sys.argv[1], "w"))
PY
cargo build -q --release -p palisade-engine --example bench_api
native=$(target/release/examples/bench_api "$req" 300)
node=$(node wasm/tests/bench.mjs "$req" 300)
python3 -c "print(f'examples via the host API (compile + check), median of 300: native {float(\"$native\"):.3f} ms, node/wasm {float(\"$node\"):.3f} ms, ratio {float(\"$node\")/float(\"$native\"):.2f}')"
rm -f "$req"
