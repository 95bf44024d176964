// Median time of the host API's `check` on REQUEST.json through the Node.js WASM build.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const wasm = require(path.join(root, "wasm/pkg/node/palisade_wasm.js"));
const text = fs.readFileSync(process.argv[2], "utf8");
const runs = Number(process.argv[3] || 200);
const first = wasm.check(text);
const samples = [];
for (let i = 0; i < runs; i++) {
  const t = performance.now();
  const out = wasm.check(text);
  samples.push(performance.now() - t);
  if (out !== first) { console.error("output changed between runs"); process.exit(1); }
}
samples.sort((a, b) => a - b);
console.log(samples[Math.floor(samples.length / 2)].toFixed(3));
