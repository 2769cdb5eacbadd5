// A Node app (inngest/node at /api/inngest) for TS v4 checkpointing: the same multi-step
// function with the SDK's checkpointing on (its default) and off (checkpointing: false).
//
// Environment: NODE_SDK (3 or 4), PORT, APP_ID, STEPS (how many steps, default 10),
// STEP_MS (how long each step body works, default 0), ACCEPT_RECORD_FILE, and the SDK's
// own INNGEST_* variables. Every call request is journalled ("call") before the SDK sees it,
// every step body when it starts ("step"), with the event's data.key, and every checkpoint
// with the status it got ("checkpoint").

import http from "node:http";
import process from "node:process";
import { PassThrough } from "node:stream";

import { define, line, loadAdapter, newClient, record } from "./sdk.js";

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error(`PORT=${process.env.PORT} is not a port`);
const appId = process.env.APP_ID || `checkpoint-v${line}`;
const steps = Number(process.env.STEPS || 10);
const stepMs = Number(process.env.STEP_MS || 0);

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function stepsFunction(client, id, options, ms = stepMs) {
  return define(client, { id, ...options }, { event: `${appId}/${id}` }, async ({ event, step }) => {
    const key = String(event.data?.key ?? "");
    let total = Number(event.data?.start ?? 0);
    const outputs = [];
    for (let i = 1; i <= steps; i++) {
      total = await step.run(`step-${i}`, async () => {
        record("step", { fn: id, step: i, key });
        if (ms) await pause(ms);
        return total + i;
      });
      outputs.push(total);
    }
    return { total, outputs };
  });
}

// Every checkpoint the SDK sends is journalled with its answer ("checkpoint"): what a step
// counts as acknowledged by, and what the benchmark counts as a request.
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = String(input?.url ?? input);
  if (!url.includes("/v1/checkpoint/")) return realFetch(input, init);
  const run = decodeURIComponent(url.split("/v1/checkpoint/")[1].split("/")[0]);
  let steps = [];
  try {
    steps = JSON.parse(String(init?.body ?? "{}")).steps?.map((op) => op.name ?? op.id) ?? [];
  } catch {
    steps = ["unparsable"];
  }
  try {
    const res = await realFetch(input, init);
    record("checkpoint", { app: appId, run_id: run, steps, status: res.status });
    return res;
  } catch (err) {
    record("checkpoint", { app: appId, run_id: run, steps, status: 0, error: String(err) });
    throw err;
  }
};

const client = newClient(appId);
const functions = [
  stepsFunction(client, "on", {}),
  stepsFunction(client, "off", { checkpointing: false }),
  // The SDK gives a request up after maxRuntime and answers with the steps it found next.
  stepsFunction(client, "short", { checkpointing: { maxRuntime: 400 } }, 120),
];
const { serve } = await loadAdapter("node");
const handler = serve({ client, functions });

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
  if (url.pathname !== "/api/inngest") {
    res.writeHead(404);
    res.end();
    return;
  }
  if (req.method !== "POST") {
    handler(req, res);
    return;
  }
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    try {
      const doc = JSON.parse(body.toString());
      const ctx = doc.ctx ?? {};
      record("call", {
        app: appId,
        fn: url.searchParams.get("fnId"),
        step_id: url.searchParams.get("stepId"),
        run_id: ctx.run_id ?? null,
        has_fn_id: "fn_id" in ctx,
        has_qi_id: "qi_id" in ctx,
        key: String(doc.event?.data?.key ?? ""),
      });
    } catch {
      record("call", { app: appId, unparsable: body.toString().slice(0, 200) });
    }
    const replay = new PassThrough();
    Object.assign(replay, { headers: req.headers, method: req.method, url: req.url, socket: req.socket });
    replay.end(body);
    handler(replay, res);
  });
});

server.listen(port, "127.0.0.1", () => {
  console.log(`${appId} (inngest ${line}, node ${process.version}) on 127.0.0.1:${port}`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
