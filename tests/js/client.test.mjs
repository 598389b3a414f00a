// The JavaScript client against a live view (started by tests/test_view_js.py, which
// passes VIEW_URL, VIEW_TOKEN and VIEW_DOCS). Run: node --experimental-websocket --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { ViewClient, RPCError } from "../../controller/view/client.js";

const url = process.env.VIEW_URL;
const token = process.env.VIEW_TOKEN;
const docs = process.env.VIEW_DOCS;
const view = new ViewClient(url, { token });

test("lists, filters and gets resources", async () => {
  const streams = await view.streams();
  assert.deepEqual(streams.map((s) => s.metadata.name), ["front-door", "garage", "workshop", "yard"]);
  assert.match(streams[0].status.urls.rtsp, /\/cams\/front-door$/);
  const garage = await view.cameras({ labelSelector: "zone=garage" });
  assert.deepEqual(garage.map((c) => c.metadata.name), ["garage"]);
  const one = await view.stream("workshop");
  assert.equal(one.spec.deviceLink, "byPath");
  const paged = await view.all("streams.list", { limit: 1 });
  assert.equal(paged.length, 4);
});

test("devices, paths, plan, controller, events, discover", async () => {
  const devices = await view.devices();
  assert.equal(devices[0].claimedBy, "Camera/front-door");
  assert.ok((await view.paths(true)).every((p) => p.owned));
  assert.equal((await view.plan()).converged, true);
  assert.equal((await view.controller()).mediamtxReachable, true);
  assert.equal((await view.events(0, 1)).events[0].seq, 1);
  const names = (await view.discover()).methods.map((m) => m.name);
  assert.ok(names.includes("streams.list") && names.includes("get_camera_list"));
});

test("errors are RPCError with the server's code", async () => {
  await assert.rejects(view.stream("nope"), (e) => e instanceof RPCError && e.code === -32004);
  const wrong = new ViewClient(url, { token: "wrong" });
  await assert.rejects(wrong.streams(), (e) => e instanceof RPCError && e.code === -32001);
  const [pong, missing] = await view.batch([["ping"], ["nope.nope"]]);
  assert.equal(pong, "pong");
  assert.equal(missing.code, -32601);
});

test("the server serves this very module at /client.js", async () => {
  const served = await (await fetch(`${url}/client.js`)).text();
  const local = await readFile(new URL("../../controller/view/client.js", import.meta.url), "utf8");
  assert.equal(served, local);
});

test("a subscription sees a file edit (injected WebSocket)", async () => {
  let made = 0;
  class Counting extends globalThis.WebSocket {
    constructor(...args) { super(...args); made += 1; }
  }
  const client = new ViewClient(url, { token, WebSocket: Counting });
  const file = `${docs}/recordings.yaml`;
  const events = client.subscribe({ kinds: ["Recording"] }, async () => {
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace("retention: 2d", "retention: 4d"));
  });
  for await (const event of events) {
    // Other Recordings' statuses move too (their segments are being written): wait for ours.
    if (event.name !== "garage") continue;
    assert.equal(event.type, "MODIFIED");
    assert.equal(event.object.spec.retention, "4d");
    break;
  }
  assert.equal(made, 1);
});
