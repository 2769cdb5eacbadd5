// The newest SDK features on inngest@4 (4.24), served by the node:http adapter at
// /api/inngest: defer() and its deferred function, step.fetch, step.ai.infer,
// inngest.metadata inside step.run, and event meta (sessions) carried through an invoke,
// a defer and a step.sendEvent.
//
// Environment: PORT, APP_ID, ACCEPT_RECORD_FILE, plus the SDK's own INNGEST_* variables.
// NEWEST_CHECKPOINTING=1 keeps v4's default, checkpointing (steps reported to
// /v1/checkpoint as they finish); otherwise it is off and each step comes in a 206 reply.

import process from "node:process";

import { Inngest } from "inngest4";
import { createDefer, metadataMiddleware } from "inngest4/experimental";
import { serve } from "inngest4/node";

import http from "node:http";
import { appendFileSync } from "node:fs";

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error(`PORT=${process.env.PORT} is not a port`);
const appId = process.env.APP_ID || "newest";
const recordFile = process.env.ACCEPT_RECORD_FILE;
if (!recordFile) throw new Error("ACCEPT_RECORD_FILE is not set");

function record(kind, fields = {}) {
  const line = JSON.stringify({ kind, t: Date.now() / 1000, pid: process.pid, ...fields });
  appendFileSync(recordFile, line + "\n");
}

const client = new Inngest({ id: appId, middleware: [metadataMiddleware()] });
const plain = process.env.NEWEST_CHECKPOINTING === "1" ? {} : { checkpointing: false };

const scorer = createDefer(client, { id: "scorer", ...plain }, async ({ event, parents }) => {
  record("deferred", {
    key: event.data.key,
    n: event.data.n,
    parent_run_id: parents[0]?.runId ?? null,
    parent_fn: parents[0]?.fnSlug ?? null,
    meta: event.meta ?? null,
  });
  return { scored: event.data.n };
});

const deferrer = client.createFunction(
  { id: "deferrer", triggers: [{ event: "newest/defer" }], ...plain },
  async ({ event, step, defer }) => {
    const key = event.data.key;
    defer("score", { function: scorer, data: { key, n: 1 } });
    const cleanup = defer("cleanup", { function: scorer, data: { key, n: 2 } });
    await step.run("a", () => {
      record("step", { key, step: "a" });
      return "a";
    });
    await step.sleep("pause", "1s");
    // Aborted in a later request than the one that reported it.
    cleanup.abort();
    await step.run("b", () => {
      record("step", { key, step: "b" });
      return "b";
    });
    return "deferred";
  },
);

const child = client.createFunction(
  { id: "child", triggers: [{ event: "newest/child" }], ...plain },
  async ({ event }) => {
    record("child", { key: event.data.key, meta: event.meta ?? null });
    return { child: event.data.key };
  },
);

const withSessions = client.createFunction(
  { id: "with-sessions", triggers: [{ event: "newest/sessions" }], ...plain },
  async ({ event, step, defer }) => {
    const key = event.data.key;
    defer("score", { function: scorer, data: { key, n: 3 } });
    await step.invoke("invoke", { function: child, data: { key } });
    await step.sendEvent("send", { name: "newest/sent", data: { key } });
    return "sessions";
  },
);

const fetcher = client.createFunction(
  { id: "fetcher", triggers: [{ event: "newest/fetch" }], retries: 0, ...plain },
  async ({ event, step }) => {
    try {
      const res = await step.fetch(event.data.url, {
        method: "POST",
        headers: { "x-from": "step.fetch" },
        body: "ping",
      });
      return { status: res.status, text: await res.text(), site: res.headers.get("x-site") };
    } catch (err) {
      return { error: err?.name ?? "Error", message: String(err?.message ?? err) };
    }
  },
);

const inferrer = client.createFunction(
  { id: "inferrer", triggers: [{ event: "newest/infer" }], retries: 0, ...plain },
  async ({ event, step }) => {
    const model = step.ai.models.openai({
      model: "local-model",
      baseUrl: event.data.base_url,
      apiKey: "sk-local",
    });
    try {
      return await step.ai.infer("ask", {
        model,
        body: { messages: [{ role: "user", content: "hi" }] },
      });
    } catch (err) {
      return { error: err?.name ?? "Error", message: String(err?.message ?? err) };
    }
  },
);

const described = client.createFunction(
  { id: "described", triggers: [{ event: "newest/metadata" }], ...plain },
  async ({ event, step }) => {
    await step.run("work", async () => {
      await client.metadata.set({ progress: 50, key: event.data.key }, "progress");
      return "worked";
    });
    return "described";
  },
);

const handler = serve({
  client,
  functions: [scorer, deferrer, child, withSessions, fetcher, inferrer, described],
});
http.createServer(handler).listen(port, "127.0.0.1", () => {
  record("ready", { app: appId, port });
});
