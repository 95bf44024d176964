// Bundles the playground into dist/ (offline: no CDN; the engine is the wasm/pkg web build).
import { build } from "esbuild";
import fs from "node:fs";

fs.rmSync("dist", { recursive: true, force: true });
fs.mkdirSync("dist", { recursive: true });
for (const entry of ["src/main.js", "src/worker.js"]) {
  await build({ entryPoints: [entry], bundle: true, format: "esm", minify: true, outdir: "dist", logLevel: "warning",
    // Sample files (examples/segmentation) are bundled as text.
    loader: { ".yaml": "text", ".json": "text" } });
}
for (const f of ["index.html", "style.css"]) fs.copyFileSync(f, `dist/${f}`);
fs.copyFileSync("../pkg/web/palisade_wasm_bg.wasm", "dist/palisade_wasm_bg.wasm");
fs.copyFileSync("../pkg/web/palisade_lsp_wasm_bg.wasm", "dist/palisade_lsp_wasm_bg.wasm");
console.log("playground built in wasm/playground/dist");
