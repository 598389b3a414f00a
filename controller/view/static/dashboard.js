// The dashboard: reads the view with client.js, then stays live on one subscription.
// Choosing a Recording lists its segments (recordings.segments, a page at a time).
// Each Stream shows its live figures and a sparkline of its inbound bitrate, drawn as an
// SVG polyline from the samples seen since the page opened (no charting library).
import { ViewClient, RPCError } from "/client.js";

const KINDS = ["Camera", "Stream", "Recording"];
const LIST = { Camera: "cameras", Stream: "streams", Recording: "recordings" };
const store = { Camera: new Map(), Stream: new Map(), Recording: new Map() };
let controller = null;
let client = null;
let browsing = null; // the Recording whose segments are shown: { namespace, name, offset }
const SEGMENTS_PAGE = 20;
const SPARK_SAMPLES = 60; // bitrate samples kept per stream: a pass each, newest last
const SPARK_WIDTH = 120, SPARK_HEIGHT = 24;
const bitrates = new Map(); // "namespace/name" -> [{ t: sampleTime, b: bits per second }]

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
  return condition(doc, "Ready") ??
    { status: "Unknown", reason: "NoStatus", message: "not planned on this node" };
}

function condition(doc, type) {
  return (doc.status?.conditions ?? []).find((c) => c.type === type);
}

function pill(c, text = c.reason) {
  return el("span", { class: `pill ${c.status}`, title: c.message }, text);
}

// Times read as "3 minutes ago", the exact time (UTC) on hover; tick() keeps them current.
const RELATIVE = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const UNITS = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];

function exact(time) {
  const date = new Date(time);
  if (Number.isNaN(date.getTime())) return time;
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function ago(time) {
  const seconds = Math.min(0, (new Date(time).getTime() - Date.now()) / 1000); // skew: "now"
  if (Number.isNaN(seconds)) return time;
  const [unit, size] = UNITS.find(([, size]) => -seconds >= size) ?? UNITS.at(-1);
  return RELATIVE.format(Math.round(seconds / size), unit);
}

function when(time) {
  return time ? el("time", { datetime: time, title: exact(time), class: "ago" }, ago(time)) : null;
}

function tick() {
  for (const node of document.querySelectorAll("time.ago")) node.textContent = ago(node.dateTime);
}

// A URL or a path that wraps after its slashes and before ? and &, not inside a name.
function breakable(text) {
  if (text == null) return null;
  const parts = String(text).split(/(?<=\/+)(?!\/)|(?=[?&])/);
  return el("span", { class: "breakable" }, parts.flatMap((part, i) => i ? [el("wbr"), part] : [part]));
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

function remember(doc) {
  const s = doc.status;
  if (doc.kind !== "Stream" || s?.bitrate == null || !s.sampleTime) return;
  const key = `${doc.metadata.namespace}/${doc.metadata.name}`;
  const samples = bitrates.get(key) ?? [];
  if (samples.at(-1)?.t === s.sampleTime) return; // the same sample, seen again
  samples.push({ t: s.sampleTime, b: s.bitrate });
  if (samples.length > SPARK_SAMPLES) samples.shift();
  bitrates.set(key, samples);
}

function sparkline(samples) {
  if (!samples || samples.length < 2) return null;
  const top = Math.max(...samples.map((s) => s.b), 1);
  const step = SPARK_WIDTH / (samples.length - 1);
  const points = samples.map((s, i) =>
    `${(i * step).toFixed(1)},${(SPARK_HEIGHT - 1 - (s.b / top) * (SPARK_HEIGHT - 2)).toFixed(1)}`);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", `0 0 ${SPARK_WIDTH} ${SPARK_HEIGHT}`);
  svg.setAttribute("width", SPARK_WIDTH);
  svg.setAttribute("height", SPARK_HEIGHT);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `inbound bitrate, last ${samples.length} samples, peak ${rate(top)}`);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points.join(" "));
  svg.append(line);
  return svg;
}

function rate(bits) {
  const units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s"];
  let i = 0;
  while (bits >= 1000 && i < units.length - 1) { bits /= 1000; i += 1; }
  return `${bits.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function uptime(since) {
  if (!since) return null;
  let seconds = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 1000));
  const days = Math.floor(seconds / 86400); seconds %= 86400;
  const hours = Math.floor(seconds / 3600); seconds %= 3600;
  const minutes = Math.floor(seconds / 60); seconds %= 60;
  if (days) return `${days}d ${hours}h`;
  if (hours) return `${hours}h ${minutes}m`;
  return minutes ? `${minutes}m ${seconds}s` : `${seconds}s`;
}

const render = {
  Camera(doc) {
    const d = doc.status?.device;
    const source = doc.status?.source;
    return card(doc, fields([
      ["device", d?.node], ["product", d?.product], ["source", breakable(doc.spec.url)],
      ["connected", when(source?.since)], ["node", doc.spec.node],
      ["labels", Object.entries(doc.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(" ")],
    ]));
  },
  Stream(doc) {
    const s = doc.status ?? {};
    const urls = s.urls ? el("span", { class: "urls" },
      Object.entries(s.urls).map(([k, u]) => el("a", { href: u, rel: "noreferrer" }, k))) : null;
    const healthy = condition(doc, "Healthy");
    const key = `${doc.metadata.namespace}/${doc.metadata.name}`;
    const live = s.bitrate != null ? el("span", { class: "live" },
      el("span", { class: "bitrate" }, rate(s.bitrate)), " ", sparkline(bitrates.get(key))) : null;
    return card(doc, fields([
      ["camera", doc.spec.camera], ["path", breakable(s.path ?? doc.spec.path)],
      ["video", video(doc)],
      ["mode", doc.spec.mode], ["health", healthy ? pill(healthy) : null], ["bitrate", live],
      ["readers", s.readers], ["uptime", uptime(s.readySince)],
      ["received", s.bytesReceived != null ? bytes(s.bytesReceived) : null],
      ["restarts", s.restarts ? [`${s.restarts}, last `, when(s.lastRestartTime)] : null],
      ["urls", urls], ["rtsp", breakable(s.urls?.rtsp)],
    ]));
  },
  Recording(doc) {
    const s = doc.status ?? {};
    const writing = condition(doc, "Recording");
    const low = condition(doc, "DiskLow");
    const disk = s.disk && [`${bytes(s.disk.freeBytes)} free of ${bytes(s.disk.totalBytes)} `,
      low?.status === "True" ? pill({ ...low, status: "False" }, "DiskLow") : null];
    const { namespace, name } = doc.metadata;
    return card(doc, [fields([
      ["stream", doc.spec.stream], ["retention", doc.spec.retention], ["format", doc.spec.format],
      ["segment", doc.spec.segmentDuration], ["recording", writing ? pill(writing) : null],
      ["segments", s.segments ? `${s.segments.count}, ${bytes(s.segments.bytes ?? 0)}` : null],
      ["oldest", when(s.segments?.oldest)], ["newest", when(s.segments?.newest)], ["disk", disk],
    ]), s.segments?.count ? el("button", { type: "button", class: "browse",
      "data-namespace": namespace, "data-name": name }, "Segments") : null]);
  },
};

// A Stream's video: as declared; what it leaves out is the camera's own (network) or the
// default (V4L2); without `video` a network camera is passed through as it sends.
function video(doc) {
  const chosen = doc.status?.video; // a V4L2 camera's mode, as captured
  if (chosen) {
    const by = { camera: " (camera's best)", default: " (default)" }[chosen.chosenBy] ?? "";
    return `${chosen.width}x${chosen.height} @ ${chosen.fps} fps, ${doc.spec.video?.codec ?? "h264"}${by}`;
  }
  const camera = store.Camera.get(`${doc.metadata.namespace}/${doc.spec.camera}`);
  const network = Boolean(camera?.spec.url);
  const v = doc.spec.video;
  if (!v) return network ? "as the camera sends it" : "default";
  const own = network ? "camera's" : "default";
  const size = v.width || v.height ? `${v.width ?? "auto"}x${v.height ?? "auto"}` : `${own} size`;
  return `${size} @ ${v.fps ? `${v.fps} fps` : `${own} rate`}, ${v.codec ?? "h264"}`;
}

function bytes(n) {
  if (n === null || n === undefined) return "?";  // only MediaMTX's listing was seen
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
    el("span", { class: "reason", id: "last-success" }, "last success ", when(h.lastSuccess) ?? "never"),
    h.errors?.length ? el("ul", { class: "errors" }, h.errors.map((e) => el("li", {}, breakable(e)))) : null,
  ].filter(Boolean));
}

async function showSegments(namespace, name, offset = 0) {
  browsing = { namespace, name, offset };
  let page;
  try {
    page = await client.segments(name, { namespace, limit: SEGMENTS_PAGE, offset });
  } catch (error) {
    if (error instanceof RPCError && error.code === -32004) return hideSegments();
    throw error;
  }
  if (browsing?.name !== name || browsing.namespace !== namespace) return; // chosen another
  const ns = namespace === "default" ? "" : `${namespace}/`;
  $("segments-name").textContent = `${ns}${name}`;
  $("segments-count").textContent = page.items.length
    ? `${offset + 1}-${offset + page.items.length} of ${page.total}, newest first` : "none";
  $("segments-directory").replaceChildren(breakable(page.directory ?? ""));
  // Exact starts here, as neighbours in a list differ by minutes; how long ago on hover.
  $("segments-rows").replaceChildren(...page.items.map((seg) => el("tr", {},
    el("td", {}, el("time", { datetime: seg.start, title: ago(seg.start) }, exact(seg.start))),
    el("td", {}, `${seg.duration} s`), el("td", {}, bytes(seg.size)),
    el("td", { class: "file" }, breakable(seg.file)),
    el("td", {}, el("a", { href: seg.url, rel: "noreferrer", class: "play" }, "play")))));
  $("newer").disabled = offset === 0;
  $("older").disabled = offset + SEGMENTS_PAGE >= page.total;
  $("segments-panel").hidden = false;
}

function hideSegments() {
  browsing = null;
  $("segments-panel").hidden = true;
}

function pageSegments(step) {
  const { namespace, name, offset } = browsing;
  showSegments(namespace, name, Math.max(0, offset + step * SEGMENTS_PAGE));
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
    lists[i].forEach(remember);
    draw(kind);
  });
  controller = health;
  drawHealth();
  if (browsing) await showSegments(browsing.namespace, browsing.name, browsing.offset);
}

function apply(event) {
  if (event.kind === "Controller") {
    controller = { ...controller, ...event.object };
    drawHealth();
    return;
  }
  if (!store[event.kind]) return;
  const key = `${event.namespace}/${event.name}`;
  if (event.type === "DELETED") {
    store[event.kind].delete(key);
    bitrates.delete(key);
  } else {
    store[event.kind].set(key, event.object);
    remember(event.object);
  }
  draw(event.kind, key);
  if (event.kind === "Recording" && browsing && `${browsing.namespace}/${browsing.name}` === key) {
    if (event.type === "DELETED") hideSegments();
    else showSegments(browsing.namespace, browsing.name, browsing.offset); // a new pass's files
  }
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
  $("Recording").onclick = async (e) => {
    const button = e.target.closest("button.browse");
    if (!button) return;
    await showSegments(button.dataset.namespace, button.dataset.name);
    if (!$("segments-panel").hidden) $("segments-panel").scrollIntoView({ block: "start" });
  };
  $("newer").onclick = () => pageSegments(-1);
  $("older").onclick = () => pageSegments(1);
  $("segments-close").onclick = hideSegments;
  setInterval(tick, 15000);
  try {
    await load();
  } catch (error) {
    if (error instanceof RPCError && error.code === -32001) return askToken();
    setLive("offline");
  }
  follow();
}

start();
