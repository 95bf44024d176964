// End-to-end test in headless Chromium (Debian's, driven by playwright-core): open the
// playground, type a policy with an error and see the diagnostic, fix it and see the
// violation on the sample deployment, open explain, save a screenshot.
// Usage: npm test (after npm run build)
import { chromium } from "playwright-core";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";

const dist = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../dist");
const artifacts = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../test-artifacts");
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm" };
// The HTML report `palisade report` wrote in the CLI's golden test (cli/tests/evidence.rs).
const reportFile = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../../cli/tests/golden/evidence-report.html");
// The npm package itself, for the evaluator module's test.
const pkg = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../pkg");
types[".json"] = "application/json";
const server = http.createServer((req, res) => {
  const pathname = decodeURIComponent(new URL(req.url, "http://x").pathname);
  if (pathname.startsWith("/pkg/")) {
    const file = path.join(pkg, pathname.slice("/pkg/".length));
    if (!file.startsWith(pkg + path.sep) || !fs.existsSync(file)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { "content-type": types[path.extname(file)] || "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
    return;
  }
  if (new URL(req.url, "http://x").pathname === "/evidence-report.html") {
    res.writeHead(200, { "content-type": "text/html" });
    fs.createReadStream(reportFile).pipe(res);
    return;
  }
  const file = path.join(dist, decodeURIComponent(new URL(req.url, "http://x").pathname).replace(/^\/$/, "/index.html"));
  if (!file.startsWith(dist) || !fs.existsSync(file)) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { "content-type": types[path.extname(file)] || "application/octet-stream" });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
const check = (cond, what) => { console.log(`${cond ? "ok  " : "FAIL"} ${what}`); if (!cond) failed = true; };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // Warnings in the console (the page's and its worker's), e.g. a deprecated initialisation.
  const warnings = [];
  page.on("console", (m) => { if (m.type() === "warning" || m.type() === "error") warnings.push(m.text()); });
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector("#status").textContent === "ready", null, { timeout: 30000 });
  check(true, "page loads and the engine answers");

  // A policy with an error.
  const policy = (field) => `policy "No privileged containers" {\n  severity high\n  lifecycle deploy\n  soc2 CC6.1\n  when container.${field}\n}\n`;
  const setPolicy = async (text) => {
    await page.click("#policy-editor .cm-content");
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Delete");
    await page.keyboard.insertText(text);
  };
  await setPolicy(policy("privilegd"));
  await page.waitForFunction(() => document.querySelector("#diagnostics").textContent.includes("privilegd"), null, { timeout: 15000 });
  const diag = await page.textContent("#diagnostics");
  check(diag.includes("unknown field `privilegd` on `container`") && diag.includes("did you mean `privileged`?"), `diagnostic shown: ${diag.trim()}`);
  check(await page.locator(".cm-lintRange-error").count() > 0, "the error is underlined in the editor");
  await page.waitForFunction(() => document.querySelector("#summary").textContent.startsWith("not checked"), null, { timeout: 15000 });
  check(!(await page.textContent("#summary")).includes("no violations"), `a policy with errors is not reported clean: ${await page.textContent("#summary")}`);

  // Fix it; the sample deployment (privileged) violates it.
  await setPolicy(policy("privileged"));
  await page.waitForFunction(() => [...document.querySelectorAll("#results tbody tr")].some((r) => r.textContent.includes("No privileged containers")), null, { timeout: 15000 });
  const row = page.locator("#results tbody tr", { hasText: "No privileged containers" });
  check(await row.count() === 1, "the violation appears in the results");
  check((await row.textContent()).includes("CC6.1"), "with its SOC 2 criteria");
  await page.waitForFunction(() => document.querySelector("#diagnostics").textContent.trim() === "", null, { timeout: 15000 });
  check(true, "the diagnostic is gone");

  // Hover and completion come from the language server (palisade-lsp) in the worker.
  // Where the word is on screen (the editor's text nodes are not elements to hover).
  const at = await page.evaluate(() => {
    const line = [...document.querySelectorAll("#policy-editor .cm-line")].find((l) => l.textContent.includes("when container.privileged"));
    const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const i = n.textContent.indexOf("privileged");
      if (i < 0) continue;
      const range = document.createRange();
      range.setStart(n, i + 2);
      range.setEnd(n, i + 3);
      const r = range.getBoundingClientRect();
      return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
    }
    return null;
  });
  check(at !== null, "the field is on screen");
  await page.mouse.move(at.x, at.y);
  await page.waitForSelector(".cm-lsp-hover", { timeout: 15000 });
  const hoverText = await page.textContent(".cm-lsp-hover");
  check(hoverText.includes("container.privileged: a boolean") && hoverText.includes("Stages: deploy, runtime"), `hover shows the field's type and stages: ${hoverText.split("\n")[0]}`);
  await page.screenshot({ path: path.join(artifacts, "playground-hover.png") });
  await page.mouse.move(0, 0);
  await setPolicy(policy("").replace(/\n\}\n$/, ""));
  await page.keyboard.type("priv");
  await page.waitForSelector(".cm-tooltip-autocomplete", { timeout: 15000 });
  const offered = await page.$$eval(".cm-tooltip-autocomplete li", (items) => items.map((i) => i.textContent));
  check(offered.some((o) => o.startsWith("privileged")), `completion offers the field: ${offered.join(", ")}`);
  await page.screenshot({ path: path.join(artifacts, "playground-completion.png") });
  await page.keyboard.press("Enter");
  await page.keyboard.insertText("\n}\n");
  check((await page.textContent("#policy-editor")).includes("when container.privileged"), "the completion is inserted");
  await page.waitForFunction(() => [...document.querySelectorAll("#results tbody tr")].some((r) => r.textContent.includes("No privileged containers")), null, { timeout: 15000 });
  await page.waitForFunction(() => document.querySelector("#diagnostics").textContent.trim() === "", null, { timeout: 15000 });
  check(true, "the completed policy checks and fires");

  // Disabled policies are evaluated only when asked, as with `palisade check --all`.
  const evaluated = async () => Number((await page.textContent("#summary")).match(/(\d+) polic/)?.[1]);
  const toggle = async (box, before) => {
    await page.click(box);
    await page.waitForFunction((b) => !document.querySelector("#summary").textContent.includes(`${b} polic`), before, { timeout: 15000 });
    return evaluated();
  };
  check(!(await page.isChecked("#all")), "disabled policies are off by default");
  const own = await evaluated();
  const library = await toggle("#builtin", own);
  const everything = await toggle("#all", library);
  check(own === 1 && library > 50 && everything - library === 26, `policies evaluated: ${own}, with the library ${library}, with disabled ones ${everything}`);
  await toggle("#all", everything);
  await toggle("#builtin", library);

  // Explain.
  await row.click();
  await page.waitForSelector("#explain:not([hidden])");
  const explain = await page.textContent("#explain");
  check(explain.includes("container.privileged") && explain.includes("true"), "explain lists the condition and its value");

  fs.mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, "playground.png"), fullPage: true });
  const sharedUrl = page.url();

  // The SOC 2 evidence tab: the engine renders this check as `palisade report` would.
  await page.click("#tab-evidence");
  await page.waitForFunction(() => /criteri(on|a):/.test(document.querySelector("#evidence-summary").textContent), null, { timeout: 15000 });
  const evSummary = await page.textContent("#evidence-summary");
  check(evSummary.includes("1 not satisfied"), `the evidence view summarizes the criteria: ${evSummary}`);
  const report = page.frameLocator("#evidence-report");
  await report.locator("h2", { hasText: "Trust Services Criteria" }).waitFor({ timeout: 15000 });
  const cc61 = report.locator('tr[id="CC6.1"]');
  check((await cc61.textContent()).includes("not satisfied") && (await cc61.textContent()).includes("No privileged containers"), "CC6.1 is not satisfied, with its control");
  check((await report.locator("h2", { hasText: "Violations open at the end (1)" }).count()) === 1, "the open violation is listed");
  await page.locator("#evidence-pane").screenshot({ path: path.join(artifacts, "evidence.png") });
  await page.click("#tab-results");

  // The Network map tab: the segmentation example (examples/segmentation) and its flows.
  await page.selectOption("#gallery", { label: "Network: a shop's manifests and observed flows (see the Network map tab)" });
  await page.click("#tab-network");
  await page.waitForFunction(() => document.querySelectorAll("#network-graph path.edge").length > 0, null, { timeout: 15000 });
  await page.waitForFunction(() => document.querySelectorAll("#network-graph path.edge.unused").length > 0, null, { timeout: 15000 });
  const count = (selector) => page.locator(selector).count();
  const [edges, unusedEdges, usedEdges] = [await count("#network-graph path.edge"), await count("#network-graph path.edge.unused"), await count("#network-graph path.edge.used")];
  check(edges === 27 && unusedEdges === 21 && usedEdges === 6, `the map draws 27 allowed paths, 21 never used and 6 used (drew ${edges}, ${unusedEdges}, ${usedEdges})`);
  const groups = await page.$$eval("#network-graph g.ns", (gs) => gs.map((g) => g.dataset.namespace));
  check(JSON.stringify(groups) === JSON.stringify(["(outside)", "kube-system", "payments", "shop"]), `namespaces are groups: ${groups}`);
  check(await count('#network-graph g.node[data-id="shop/redis[StatefulSet]"]') === 1 && await count("#network-graph g.node") === 6, "workloads and external ranges are drawn as nodes");
  const netSummary = await page.textContent("#network-summary");
  check(netSummary.includes("21 never used (77.8%)") && netSummary.includes("6 of 7 flow(s) used"), `summary: ${netSummary}`);
  check((await page.textContent("#network-diagnostics")).includes("network_flow `f7`"), "the flow naming an unknown workload is reported");
  await page.locator("#network-pane").screenshot({ path: path.join(artifacts, "network.png") });
  // A policy the API server would refuse: a message, no graph.
  await page.fill("#flows", "");
  await page.click("#input-editor .cm-content");
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]}\n");
  await page.waitForFunction(() => document.querySelector("#network-summary").textContent.startsWith("no map"), null, { timeout: 15000 });
  check((await page.textContent("#network-summary")).includes("ipBlock.cidr"), `a bad policy is named, not drawn: ${await page.textContent("#network-summary")}`);
  check(await count("#network-graph path.edge") === 0, "no graph for a refused policy");
  await page.click("#tab-results");

  // The state is in the URL fragment.
  check(/#s=/.test(sharedUrl), "state is shareable in the URL fragment");
  const reopened = await browser.newPage();
  await reopened.goto(sharedUrl);
  await reopened.waitForFunction(() => document.querySelector("#status").textContent === "ready", null, { timeout: 30000 });
  check((await reopened.textContent("#policy-editor")).includes("No privileged containers"), "a shared link restores the policy");

  // Bad input: broken YAML gives a message, the page keeps working.
  await page.click("#input-editor .cm-content");
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText("apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n");
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes("invalid YAML"), null, { timeout: 15000 });
  check(true, `broken YAML is reported: ${await page.textContent("#status")}`);

  await page.screenshot({ path: path.join(artifacts, "playground-bad-input.png"), fullPage: true });

  // A huge paste (3,000 privileged deployments, ~0.7 MB): the page stays responsive while the
  // worker evaluates, and the results arrive.
  const big = JSON.stringify(Array.from({ length: 3000 }, (_, i) => ({ kind: "deployment", id: `d${i}`, name: `web-${i}`, namespace: "prod",
    containers: [{ name: "app", image: { name: { full_name: "nginx:1.27" } }, security_context: { privileged: true } }] })));
  await page.click("#input-editor .cm-content");
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(big);
  const t0 = Date.now();
  const responsive = await page.evaluate(() => new Promise((resolve) => { const s = performance.now(); setTimeout(() => resolve(performance.now() - s), 0); }));
  check(responsive < 1000, `the page answers while evaluating (${responsive.toFixed(0)} ms)`);
  await page.waitForFunction(() => document.querySelector("#summary").textContent.includes("3000 violation"), null, { timeout: 60000 });
  check(true, `a 0.7 MB paste is evaluated (${Date.now() - t0} ms)`);
  // The paste is one long line: the two panes keep their halves.
  const widths = await page.$$eval(".pane", (panes) => panes.map((p) => p.getBoundingClientRect().width));
  check(widths.length === 2 && Math.abs(widths[0] - widths[1]) < 2, `a long line does not squeeze the other pane (${widths.map((w) => w.toFixed(0)).join(" / ")} px)`);
  await page.screenshot({ path: path.join(artifacts, "playground-long-line.png") });
  // The HTML report of `palisade report` opens on its own and loads nothing else.
  const standalone = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const requests = [];
  standalone.on("request", (r) => requests.push(r.url()));
  await standalone.goto(`${url}evidence-report.html`);
  await standalone.waitForLoadState("networkidle");
  check(requests.length === 1 && requests[0].endsWith("/evidence-report.html"), `the report loads no script, font or image (${requests.length} request(s): ${requests.join(", ")})`);
  const charts = await standalone.locator("svg[role=img]").count();
  check(charts === 2, `both charts are drawn (${charts})`);
  const heading = await standalone.textContent("h1");
  check(heading === "SOC 2 evidence, 2026-11-01 to 2026-11-30", `the report covers the period: ${heading}`);
  await standalone.screenshot({ path: path.join(artifacts, "evidence-report.png"), fullPage: true });
  // The evaluator module in the browser: the web build loads the built-in library's
  // bundle on demand and gives the report the Node.js build gives for the same request.
  const records = JSON.stringify({ kind: "deployment", id: "d", name: "web", namespace: "shop", containers: [{ name: "c", security_context: { privileged: true }, image: { name: { full_name: "nginx:latest", tag: "latest" } } }] });
  const request = JSON.stringify({ inputs: [{ name: "records.json", text: records }], now: "2026-12-01T00:00:00Z" });
  const evaluatorPage = await browser.newPage();
  evaluatorPage.on("pageerror", (e) => errors.push(e.message));
  await evaluatorPage.goto(`${url}pkg/library.bundle.json`);
  const inBrowser = await evaluatorPage.evaluate(async (request) => {
    const evaluator = await import("/pkg/web/palisade_evaluator_wasm.js");
    await evaluator.default();
    const loaded = JSON.parse(evaluator.load(await (await fetch("/pkg/library.bundle.json")).text()));
    return { loaded, report: evaluator.check(request) };
  }, request);
  const { createRequire } = await import("node:module");
  const nodeEvaluator = createRequire(import.meta.url)(path.join(pkg, "node/palisade_evaluator_wasm.js"));
  nodeEvaluator.load(fs.readFileSync(path.join(pkg, "library.bundle.json"), "utf8"));
  const inNode = nodeEvaluator.check(request);
  const policies = JSON.parse(inBrowser.report).violations?.map((v) => v.policy) || [];
  check(inBrowser.loaded.ok && inBrowser.loaded.policies > 80, `the evaluator loads the library's bundle in the browser (${JSON.stringify(inBrowser.loaded)})`);
  check(policies.includes("Privileged Container") && policies.includes("Latest tag"), `the evaluator reports the privileged latest-tag deployment: ${policies.join(", ")}`);
  check(inBrowser.report === inNode, "the browser's evaluator report is the Node.js one, byte for byte");
  check(warnings.length === 0, `no console warnings ${warnings.join("; ")}`);
  check(errors.length === 0, `no page errors ${errors.join("; ")}`);
} catch (e) {
  console.log("FAIL " + e.message);
  failed = true;
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
