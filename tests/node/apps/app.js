// A Node app served by the SDK's node:http adapter (inngest/node) at /api/inngest.
//
// Environment: NODE_SDK (3 or 4), PORT, APP_ID, APP_SET (which functions: core, seeds-node,
// polyglot), ACCEPT_RECORD_FILE, plus the SDK's own INNGEST_* variables. Every call request
// (POST) is journalled with its ctx.stack and request version before the SDK sees it.

import http from "node:http";
import process from "node:process";
import { PassThrough } from "node:stream";

import { functionsFor } from "./sets.js";
import { line, loadAdapter, newClient, record } from "./sdk.js";

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error(`PORT=${process.env.PORT} is not a port`);
const appId = process.env.APP_ID || `node-v${line}`;

const client = newClient(appId);
const functions = await functionsFor(process.env.APP_SET || "core", client, appId);
const { serve } = await loadAdapter("node");
const handler = serve({ client, functions });

function journal(url, body) {
  try {
    const doc = JSON.parse(body);
    const ctx = doc.ctx ?? {};
    record("call", {
      app: appId,
      fn_id: url.searchParams.get("fnId"),
      step_id: url.searchParams.get("stepId"),
      run_id: ctx.run_id ?? null,
      attempt: ctx.attempt ?? null,
      stack: ctx.stack?.stack ?? null,
      version: doc.version ?? null,
      has_fn_id: "fn_id" in ctx,
      use_api: Boolean(doc.use_api ?? ctx.use_api),
    });
  } catch {
    record("call", { app: appId, unparsable: body.slice(0, 200) });
  }
}

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
    journal(url, body.toString());
    // The adapter reads the body from the request stream, so it gets a replay of it.
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
  // The server keeps its callers' connections alive; they must not hold the exit.
  server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
