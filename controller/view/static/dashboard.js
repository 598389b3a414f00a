// The dashboard: reads the view with client.js, then stays live on one subscription.
import { ViewClient, RPCError } from "/client.js";

const KINDS = ["Camera", "Stream", "Recording"];
const LIST = { Camera: "cameras", Stream: "streams", Recording: "recordings" };
const store = { Camera: new Map(), Stream: new Map(), Recording: new Map() };
let controller = null;
let client = null;

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null) continue;
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const child of children.flat(Infinity)) {
    if (child != null) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function ready(doc) {
  return (doc.status?.conditions ?? []).find((c) => c.type === "Ready") ??
    { status: "Unknown", reason: "NoStatus", message: "not planned on this node" };
}

function fields(pairs) {
  return el("dl", {}, pairs.filter(([, v]) => v != null && v !== "")
    .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function card(doc, body) {
  const r = ready(doc);
  const key = `${doc.metadata.namespace}/${doc.metadata.name}`;
  const ns = doc.metadata.namespace === "default" ? "" : `${doc.metadata.namespace}/`;
  return el("article", { class: `card ${r.status}`, "data-kind": doc.kind, "data-name": doc.metadata.name, "data-key": key },
    el("h3", {}, `${ns}${doc.metadata.name}`, el("span", { class: `pill ${r.status}` }, r.status === "True" ? "Ready" : r.reason)),
    r.message ? el("div", { class: "reason" }, r.message) : null,
    body);
}

const render = {
  Camera(doc) {
    const d = doc.status?.device;
    return card(doc, fields([
      ["device", d?.node], ["product", d?.product], ["node", doc.spec.node],
      ["labels", Object.entries(doc.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(" ")],
    ]));
  },
  Stream(doc) {
    const s = doc.status ?? {};
    const v = doc.spec.video ?? {};
    const urls = s.urls ? el("span", { class: "urls" },
      Object.entries(s.urls).map(([k, u]) => el("a", { href: u, rel: "noreferrer" }, k))) : null;
    return card(doc, fields([
      ["path", s.path ?? doc.spec.path], ["video", `${v.width}x${v.height} @ ${v.fps} fps, ${v.codec}`],
      ["mode", doc.spec.mode], ["readers", s.readers], ["received", s.bytesReceived != null ? bytes(s.bytesReceived) : null],
      ["urls", urls], ["rtsp", s.urls?.rtsp],
    ]));
  },
  Recording(doc) {
    return card(doc, fields([
      ["stream", doc.spec.stream], ["retention", doc.spec.retention], ["format", doc.spec.format],
      ["segments", doc.spec.segmentDuration], ["enabled", String(doc.spec.enabled)],
    ]));
  },
};

function bytes(n) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function draw(kind, changed = null) {
  const items = [...store[kind].values()].sort((a, b) =>
    `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  const notReady = items.filter((d) => ready(d).status !== "True").length;
  $(`count-${kind}`).textContent = `${items.length}${notReady ? `, ${notReady} not ready` : ""}`;
  $(kind).replaceChildren(...items.map((doc) => {
    const node = render[kind](doc);
    if (changed === `${doc.metadata.namespace}/${doc.metadata.name}`) node.classList.add("flash");
    return node;
  }));
}

function drawHealth() {
  const h = controller;
  if (!h) return;
  const reach = h.mediamtxReachable ? "True" : h.mediamtxReachable === false ? "False" : "Unknown";
  $("health").replaceChildren(...[
    el("span", {}, "controller ", el("b", {}, h.node ?? "camctl")),
    el("span", {}, "MediaMTX ", el("span", { class: `pill ${reach}`, id: "mediamtx" },
      reach === "True" ? `up ${h.mediamtxVersion ?? ""}` : reach === "False" ? "unreachable" : "unknown")),
    el("span", { class: "reason" }, `last success ${h.lastSuccess ?? "never"}`),
    h.errors?.length ? el("ul", { class: "errors" }, h.errors.map((e) => el("li", {}, e))) : null,
  ].filter(Boolean));
}

function setLive(state) {
  const live = $("live");
  live.className = `pill ${state}`;
  live.textContent = state;
}

async function load() {
  const [lists, health] = await Promise.all([
    Promise.all(KINDS.map((k) => client.all(`${LIST[k]}.list`))),
    client.controller(),
  ]);
  KINDS.forEach((kind, i) => {
    store[kind] = new Map(lists[i].map((d) => [`${d.metadata.namespace}/${d.metadata.name}`, d]));
    draw(kind);
  });
  controller = health;
  drawHealth();
}

function apply(event) {
  if (event.kind === "Controller") {
    controller = { ...controller, ...event.object };
    drawHealth();
    return;
  }
  if (!store[event.kind]) return;
  const key = `${event.namespace}/${event.name}`;
  if (event.type === "DELETED") store[event.kind].delete(key);
  else store[event.kind].set(key, event.object);
  draw(event.kind, key);
}

async function follow() {
  for (;;) {
    try {
      const events = client.subscribe({ kinds: [...KINDS, "Controller"] }, async () => {
        setLive("live");
        await load(); // anything missed while (re)connecting
      });
      for await (const event of events) apply(event);
    } catch (error) {
      if (error instanceof RPCError && error.code === -32001) return askToken();
    }
    setLive("offline");
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function askToken() {
  setLive("offline");
  $("login").hidden = false;
  $("login").onsubmit = (e) => {
    e.preventDefault();
    sessionStorage.setItem("camctl-token", $("token").value.trim());
    location.reload();
  };
}

async function start() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    sessionStorage.setItem("camctl-token", fragment.get("token"));
    history.replaceState(null, "", location.pathname); // keep the token out of the address bar
  }
  client = new ViewClient(location.origin, { token: sessionStorage.getItem("camctl-token") });
  try {
    await load();
  } catch (error) {
    if (error instanceof RPCError && error.code === -32001) return askToken();
    setLive("offline");
  }
  follow();
}

start();
