#!/usr/bin/env bash
# Node (WASM) vs native, same run: median ms of one host-API request over the examples, and
# the ratio, twice: `check` (compile the example policies and evaluate the example records:
# the main module) and `evaluate` (the policies loaded once as a bundle, the records
# evaluated: the evaluator module). 2,000 runs each: V8 compiles hot WASM functions again,
# optimised, after their first calls, as in a long-lived page or service. Needs
# wasm/build.sh first.
set -euo pipefail
cd "$(dirname "$0")/../.."
req=$(mktemp)
python3 - "$req" <<'PY'
import json, sys, pathlib
pol = [{"name": str(p), "text": p.read_text()} for p in sorted(pathlib.Path("examples/policies").glob("*.pal"))]
inp = [{"name": str(p), "text": p.read_text()} for p in sorted(pathlib.Path("examples/records").iterdir())]
json.dump({"policies": pol, "inputs": inp, "now": "2026-11-26T12:00:00Z", "all": True}, open(sys.argv[1], "w"))
PY
cargo build -q --release -p palisade-api --example bench_api
for mode in check evaluate; do
  native=$(target/release/examples/bench_api "$req" 2000 $mode)
  node=$(node wasm/tests/bench.mjs "$req" 2000 $mode)
  python3 -c "print(f'examples, $mode, median of 2000: native {float(\"$native\"):.3f} ms, node/wasm {float(\"$node\"):.3f} ms, ratio {float(\"$node\")/float(\"$native\"):.2f}')"
done
rm -f "$req"
