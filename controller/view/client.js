// camctl view client: one dependency-free ES module for browsers and Node.js (>= 20).
//
//   import { ViewClient } from "http://127.0.0.1:9990/client.js";   // or a local copy
//   const view = new ViewClient("http://127.0.0.1:9990", { token });
//   const streams = await view.streams({ labelSelector: "site=home" });
//   for await (const event of view.subscribe({ kinds: ["Stream"] })) { ... }
//
// HTTP uses the global fetch. Subscriptions use the global WebSocket (browsers; Node 22,
// or Node 20 with --experimental-websocket), or one passed as `options.WebSocket` (e.g.
// the `ws` package). In browsers, which cannot set headers on a WebSocket, the token is
// sent in an `authenticate` call first; elsewhere too, so one code path serves both.

/** A JSON-RPC error answer: `code`, `message` and optional `data`. */
export class RPCError extends Error {
  constructor(code, message, data) {
    super(message);
    this.name = "RPCError";
    this.code = code;
    this.data = data;
  }
}

export class ViewClient {
  constructor(url = "http://127.0.0.1:9990", options = {}) {
    this.url = String(url).replace(/\/+$/, "");
    this.token = options.token ?? null;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.nextId = 1;
  }

  headers() {
    const headers = { "Content-Type": "application/json" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    return headers;
  }

  request(method, params) {
    const request = { jsonrpc: "2.0", id: this.nextId++, method };
    if (params) {
      const given = Object.fromEntries(Object.entries(params).filter(([, v]) => v != null));
      if (Object.keys(given).length) request.params = given;
    }
    return request;
  }

  async post(body) {
    const response = await this.fetch(`${this.url}/rpc`, {
      method: "POST",
      headers: this.headers(),
      body: JSON.stringify(body),
    });
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      throw new RPCError(-32700, `HTTP ${response.status}: not a JSON-RPC answer`);
    }
  }

  /** One call: its result, or throws RPCError. */
  async call(method, params) {
    return resultOf(await this.post(this.request(method, params)));
  }

  /** Several calls in one request: each item is a result or an RPCError. */
  async batch(calls) {
    const requests = calls.map(([method, params]) => this.request(method, params));
    const answers = await this.post(requests);
    if (!Array.isArray(answers)) return requests.map(() => errorOf(answers));
    const byId = new Map(answers.map((a) => [a.id, a]));
    return requests.map((r) => {
      try {
        return resultOf(byId.get(r.id) ?? {});
      } catch (error) {
        return error;
      }
    });
  }

  async all(method, params = {}) {
    const items = [];
    let token = null;
    do {
      const page = await this.call(method, { ...params, continue: token });
      items.push(...page.items);
      token = page.continue;
    } while (token);
    return items;
  }

  cameras(filters = {}) { return this.all("cameras.list", filters); }
  streams(filters = {}) { return this.all("streams.list", filters); }
  recordings(filters = {}) { return this.all("recordings.list", filters); }
  camera(name, namespace = "default") { return this.call("cameras.get", { name, namespace }); }
  stream(name, namespace = "default") { return this.call("streams.get", { name, namespace }); }
  recording(name, namespace = "default") {
    return this.call("recordings.get", { name, namespace });
  }
  /** One page of a Recording's segments, newest first, with playback URLs. */
  segments(name, { namespace = "default", since, until, limit, offset } = {}) {
    return this.call("recordings.segments", { name, namespace, since, until, limit, offset });
  }
  devices() { return this.all("devices.list"); }
  paths(owned = null) { return this.all("paths.list", { owned }); }
  plan() { return this.call("plan.get"); }
  controller() { return this.call("controller.status"); }
  events(since = 0, limit = 100) { return this.call("events.list", { since, limit }); }
  discover() { return this.call("rpc.discover"); }

  /**
   * Events as they happen: an async iterator; `break` (or `return()`) closes the socket.
   * `onOpen` is called once the subscription is in place.
   */
  subscribe(filters = {}, onOpen = null) {
    if (!this.WebSocket) throw new Error("no WebSocket: pass options.WebSocket");
    const ws = new this.WebSocket(`${this.url.replace(/^http/, "ws")}/rpc/ws`);
    const queue = [];
    let wake = null;
    let ended = null;
    const push = (item) => { queue.push(item); if (wake) { wake(); wake = null; } };
    const authenticate = this.request("authenticate", { auth_token: this.token });
    const subscribe = this.request("events.subscribe", filters);
    ws.onopen = () => {
      if (this.token) ws.send(JSON.stringify(authenticate));
      ws.send(JSON.stringify(subscribe));
    };
    ws.onmessage = (message) => {
      const data = JSON.parse(typeof message.data === "string" ? message.data : String(message.data));
      if (data.method === "events.event") push({ event: data.params.event });
      else if (data.id === subscribe.id || data.id === authenticate.id) {
        if (data.error) push({ error: errorOf(data) });
        else if (data.id === subscribe.id && onOpen) onOpen(data.result.subscription);
      }
    };
    ws.onclose = (close) => push({ end: close.code });
    ws.onerror = () => push({ error: new RPCError(-32603, "WebSocket error") });
    return {
      [Symbol.asyncIterator]() { return this; },
      async next() {
        for (;;) {
          if (ended) return { done: true, value: undefined };
          const item = queue.shift();
          if (item?.event) return { done: false, value: item.event };
          if (item?.error) { ended = true; ws.close(); throw item.error; }
          if (item) { ended = true; return { done: true, value: undefined }; }
          await new Promise((resolve) => { wake = resolve; });
        }
      },
      async return() {
        ended = true;
        ws.close();
        return { done: true, value: undefined };
      },
      close() { ended = true; ws.close(); },
    };
  }
}

function resultOf(answer) {
  if (!answer || answer.jsonrpc !== "2.0") throw new RPCError(-32603, "not a JSON-RPC 2.0 answer");
  if (answer.error) throw errorOf(answer);
  return answer.result;
}

function errorOf(answer) {
  const error = answer?.error ?? {};
  return new RPCError(error.code ?? -32603, error.message ?? "malformed answer", error.data);
}
