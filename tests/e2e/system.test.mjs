// The JavaScript client against the running system of tests/e2e/test_system.py, which passes
// VIEW_URL, VIEW_TOKEN (a viewer's) and VIEW_ADMIN_TOKEN. Run by that test under node --test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ViewClient, RPCError } from "../../controller/view/client.js";

const url = process.env.VIEW_URL;
const view = new ViewClient(url, { token: process.env.VIEW_TOKEN });
const admin = new ViewClient(url, { token: process.env.VIEW_ADMIN_TOKEN });

test("resources: every Stream, a Camera by label, the controller", async () => {
  const streams = await view.streams();
  assert.deepEqual(streams.map((s) => s.metadata.name), ["front-door", "garage", "gate", "workshop"]);
  const garage = await view.cameras({ labelSelector: "zone=garage" });
  assert.deepEqual(garage.map((c) => c.metadata.name), ["garage"]);
  assert.equal((await view.controller()).mediamtxReachable, true);
});

test("a network camera's source is shown without its password", async () => {
  const gate = await view.camera("gate");
  assert.equal(gate.spec.url, "rtsp://192.0.2.10:554/h264/ch1/main");
  assert.equal(gate.status.source.url, "rtsp://192.0.2.10:554/h264/ch1/main");
  assert.equal(gate.status.source.connected, false); // the camera wants another password
});

test("recordings: segments newest first, each with a download a viewer may fetch", async () => {
  const page = await view.segments("front-door", { limit: 3 });
  assert.ok(page.total >= 4);
  assert.ok(page.items[0].start > page.items[1].start);
  const oldest = (await view.segments("front-door", { offset: page.total - 1 })).items[0];
  const headers = { Authorization: `Bearer ${process.env.VIEW_TOKEN}` };
  const file = await fetch(`${url}/files/recordings/${oldest.file}`, { headers });
  assert.equal(file.status, 200);
  assert.equal((await file.arrayBuffer()).byteLength, oldest.size);
  const traversal = await fetch(`${url}/files/recordings/..%2F..%2Ftokens`, { headers });
  assert.ok([400, 404].includes(traversal.status));
});

test("no token and a wrong token are refused; an admin may call the admin calls", async () => {
  for (const token of [undefined, "not-a-token"]) {
    const stranger = new ViewClient(url, { token });
    await assert.rejects(stranger.streams(), (e) => e instanceof RPCError && e.code === -32001);
  }
  await assert.rejects(view.call("get_storage_info"), (e) => e instanceof RPCError && e.code === -32003);
  assert.ok((await admin.call("get_storage_info")).recordings_size > 0);
});

test("a subscription hears the controller's next pass", async () => {
  const events = view.subscribe({ kinds: ["Recording"] });
  for await (const event of events) {
    assert.equal(event.kind, "Recording");
    break;
  }
});
