// The Network tab: the connectivity map of the input's Kubernetes manifests as a graph
// (namespaces as groups, external addresses and the ingress controller outside them), with
// the paths that the observed flows never used highlighted.

const SVG = "http://www.w3.org/2000/svg";
const COLUMN = 280, ROW = 44, NODE_W = 200, NODE_H = 28, PAD = 16, TOP = 40, CURVE_ROOM = 70;

function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// Short label of a node: the workload without its namespace.
const label = (n) => n.kind === "external" ? n.id.replace("[External]", "")
  : n.namespace && n.id.startsWith(n.namespace + "/") ? n.id.slice(n.namespace.length + 1) : n.id;

// Places the nodes: a column for what is outside the cluster, then a column per namespace.
function layout(nodes) {
  const groups = new Map([["(outside)", []]]);
  for (const n of nodes) {
    const g = n.kind === "workload" ? n.namespace : "(outside)";
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(n);
  }
  if (!groups.get("(outside)").length) groups.delete("(outside)");
  // Outside first, then namespaces by name; nodes by name within them.
  const ordered = [...groups].sort(([a], [b]) => (a === "(outside)" ? -1 : b === "(outside)" ? 1 : a.localeCompare(b)));
  for (const [, members] of ordered) members.sort((x, y) => x.id.localeCompare(y.id));
  const pos = new Map(), boxes = [];
  let x = PAD, height = 0;
  for (const [name, members] of ordered) {
    members.forEach((n, i) => pos.set(n.id, { x: x + PAD, y: TOP + PAD + i * ROW }));
    const h = PAD * 2 + members.length * ROW - (ROW - NODE_H);
    boxes.push({ name, x, y: TOP, w: NODE_W + PAD * 2, h, outside: name === "(outside)" });
    height = Math.max(height, TOP + h);
    x += COLUMN;
  }
  return { pos, boxes, width: x - COLUMN + NODE_W + PAD * 2 + CURVE_ROOM, height: height + PAD };
}

/** Draws `map` (the `netpol` answer of the engine) into `svg`; returns counts for a summary. */
export function drawNetwork(svg, map) {
  svg.replaceChildren();
  const { pos, boxes, width, height } = layout(map.nodes);
  svg.setAttribute("viewBox", `0 0 ${Math.max(width, 400)} ${Math.max(height, 120)}`);
  svg.setAttribute("width", Math.max(width, 400));
  svg.setAttribute("height", Math.max(height, 120));
  const defs = el("defs");
  for (const [id, color] of [["arrow", "#7b8499"], ["arrow-unused", "#c62828"], ["arrow-used", "#2e7d32"]]) {
    const m = el("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    m.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: color }));
    defs.append(m);
  }
  svg.append(defs);
  for (const b of boxes) {
    const g = el("g", { class: b.outside ? "ns outside" : "ns", "data-namespace": b.name });
    g.append(el("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: 8 }));
    g.append(el("text", { x: b.x + 8, y: b.y - 8, class: "ns-label" }, b.outside ? "outside the cluster" : `namespace ${b.name}`));
    svg.append(g);
  }
  const edges = el("g", { class: "edges" });
  let unused = 0, used = 0;
  for (const l of map.links) {
    const a = pos.get(l.src), b = pos.get(l.dst);
    if (!a || !b) continue;
    const state = l.unused === true ? "unused" : l.unused === false ? "used" : "allowed";
    if (state === "unused") unused++;
    if (state === "used") used++;
    // From the side facing the other node; a curve when both are in one column.
    const sameColumn = a.x === b.x;
    // The two directions between a pair run side by side, not on top of each other.
    const lane = l.src < l.dst ? -5 : 5;
    const x1 = sameColumn || a.x < b.x ? a.x + NODE_W : a.x, y1 = a.y + NODE_H / 2 + lane;
    const x2 = sameColumn ? b.x + NODE_W : a.x < b.x ? b.x : b.x + NODE_W, y2 = b.y + NODE_H / 2 + lane;
    const bend = sameColumn ? 40 + Math.abs(y2 - y1) / 4 : 0;
    const d = sameColumn ? `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 + bend} ${y2}, ${x2} ${y2}` : `M ${x1} ${y1} L ${x2} ${y2}`;
    const path = el("path", { d, class: `edge ${state}`, "marker-end": `url(#${state === "allowed" ? "arrow" : "arrow-" + state})` });
    path.append(el("title", {}, `${l.src} => ${l.dst} : ${l.conn}` + (state === "unused" ? "\nunused: no observed flow" : l.unused_conn ? `\nnot used: ${l.unused_conn}` : "")));
    edges.append(path);
  }
  svg.append(edges);
  for (const n of map.nodes) {
    const p = pos.get(n.id);
    const g = el("g", { class: `node ${n.kind}`, "data-id": n.id });
    g.append(el("rect", { x: p.x, y: p.y, width: NODE_W, height: NODE_H, rx: 5 }));
    g.append(el("text", { x: p.x + 8, y: p.y + 18 }, label(n)));
    g.append(el("title", {}, n.id));
    svg.append(g);
  }
  return { links: map.links.length, unused, used };
}
