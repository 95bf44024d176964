// A minimal host for the Palisade plugin with nothing but the standard WebAssembly API
// (Node.js here; the same calls work in a browser, wazero, wasmer, ...). See docs/plugin-abi.md.
// Usage: node wasm/plugin/examples/host.mjs PLUGIN.wasm BUNDLE.json INPUT [NOW]
import fs from "node:fs";

const [pluginPath, bundlePath, inputPath, now = new Date().toISOString()] = process.argv.slice(2);
if (!inputPath) {
  console.error("usage: host.mjs PLUGIN.wasm BUNDLE.json INPUT [NOW]");
  process.exit(2);
}
// No imports: the plugin needs nothing from its host.
const { instance } = await WebAssembly.instantiate(fs.readFileSync(pluginPath), {});
const abi = instance.exports;
if (abi.palisade_abi_version() !== 1) throw new Error(`unsupported ABI ${abi.palisade_abi_version()}`);

// Writes `text` into a guest buffer, calls `fn(ptr, len)`, reads and frees the answer.
function call(fn, text) {
  const bytes = new TextEncoder().encode(text);
  const ptr = abi.palisade_alloc(bytes.length);
  if (ptr === 0 && bytes.length > 0) throw new Error("plugin out of memory");
  new Uint8Array(abi.memory.buffer, ptr, bytes.length).set(bytes);
  const packed = BigInt.asUintN(64, fn(ptr, bytes.length));
  abi.palisade_free(ptr, bytes.length);
  const outPtr = Number(packed >> 32n), outLen = Number(packed & 0xffffffffn);
  // Read after the call: the memory may have grown (and `buffer` been replaced) meanwhile.
  const answer = new TextDecoder().decode(new Uint8Array(abi.memory.buffer, outPtr, outLen));
  abi.palisade_free(outPtr, outLen);
  return answer;
}

const loaded = JSON.parse(call(abi.palisade_load, fs.readFileSync(bundlePath, "utf8")));
if (!loaded.ok) {
  console.error(`bundle refused: ${loaded.error.message}`);
  process.exit(2);
}
const request = { inputs: [{ name: inputPath, text: fs.readFileSync(inputPath, "utf8") }], now };
const report = call(abi.palisade_check, JSON.stringify(request));
process.stdout.write(report);
process.exit(JSON.parse(report).error ? 2 : 0);
