// A Node app with durable endpoints (inngest@4's client.endpoint, served through
// inngest/node's serveEndpoint): functions run inside the app's own HTTP handler.
//
// Environment: PORT, ACCEPT_RECORD_FILE and the SDK's own INNGEST_* variables. Paths:
//   /health           200 (the harness's readiness probe; no run)
//   /sync?key=K       one step, answers 201 {key, a} in the request (no async)
//   /async?key=K      step a, a 1 s sleep, step b: the request goes async (302)
//   /flaky?key=K      a step that throws on its first attempt: async, retried by Inlet
// Every step body is journalled when it starts ("step": path, step, key) and every run
// the SDK creates with POST /v1/checkpoint ("endpoint_run": run_id, path, status).

import http from "node:http";
import process from "node:process";

import { loadAdapter, line, record, sdk } from "./sdk.js";

if (line !== "4") throw new Error(`durable endpoints need inngest@4, not NODE_SDK=${line}`);
const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error(`PORT=${process.env.PORT} is not a port`);

const { endpointAdapter, serveEndpoint } = await loadAdapter("node");
const { Inngest, step } = sdk;

const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = String(input?.url ?? input);
  const res = await realFetch(input, init);
  if (new URL(url).pathname === "/v1/checkpoint") {
    const body = JSON.parse(String(init?.body ?? "{}"));
    record("endpoint_run", { run_id: body.run_id, path: body.event?.data?.path, status: res.status });
  }
  return res;
};

const client = new Inngest({ id: process.env.APP_ID || "durable", endpointAdapter });
const failures = new Map();

const handler = client.endpoint(async (req) => {
  const url = new URL(req.url);
  const key = url.searchParams.get("key") ?? "";
  const path = url.pathname;
  const journal = (name) => record("step", { path, step: name, key });
  if (path === "/sync") {
    const a = await step.run("a", async () => {
      journal("a");
      return `A${key}`;
    });
    return Response.json({ key, a }, { status: 201 });
  }
  if (path === "/async") {
    const a = await step.run("a", async () => {
      journal("a");
      return "A";
    });
    await step.sleep("nap", "1s");
    const b = await step.run("b", async () => {
      journal("b");
      return "B";
    });
    return `${a}-${b}-${key}`;
  }
  if (path === "/flaky") {
    const out = await step.run("flaky", async () => {
      journal("flaky");
      const seen = failures.get(key) ?? 0;
      failures.set(key, seen + 1);
      if (seen === 0) throw new Error(`first attempt of ${key} fails`);
      return `ok after ${seen + 1}`;
    });
    return out;
  }
  return new Response("no such endpoint", { status: 404 });
});

const endpoint = serveEndpoint(handler);
const server = http.createServer((req, res) => {
  if (req.url === "/health") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
    return;
  }
  endpoint(req, res);
});
server.listen(port, "127.0.0.1");
