// The JavaScript client's `segments` against a live view with real recorded segments
// (started by tests/test_view_js.py: front-door has 30 one-minute segments from 08:00Z).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ViewClient, RPCError } from "../../controller/view/client.js";

const view = new ViewClient(process.env.VIEW_URL, { token: process.env.VIEW_TOKEN });
const at = (minute) => `2026-11-28T08:${String(minute).padStart(2, "0")}:00Z`;

test("segments come newest first, paged, with playback URLs", async () => {
  const page = await view.segments("front-door", { limit: 5 });
  assert.equal(page.total, 30);
  assert.deepEqual(page.items.map((s) => s.start), [29, 28, 27, 26, 25].map(at));
  assert.match(page.items[0].url, /^http:\/\/127\.0\.0\.1:9996\/get\?path=cams%2Ffront-door&start=/);
  assert.ok(page.items.every((s) => s.size > 0 && s.file.startsWith("cams/front-door/")));
  const next = await view.segments("front-door", { limit: 5, offset: 5 });
  assert.equal(next.items[0].start, at(24));
});

test("segments in a time window", async () => {
  const page = await view.segments("front-door", { since: at(10), until: at(13) });
  assert.deepEqual(page.items.map((s) => s.start), [at(12), at(11), at(10)]);
  assert.equal(page.total, 3);
});

test("segments of an unknown Recording, or with bad params, are RPCErrors", async () => {
  await assert.rejects(view.segments("nope"), (e) => e instanceof RPCError && e.code === -32004);
  const bad = view.segments("front-door", { limit: 0 });
  await assert.rejects(bad, (e) => e instanceof RPCError && e.code === -32602);
});
