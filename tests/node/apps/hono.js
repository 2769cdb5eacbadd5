// A Hono app (the SDK's inngest/hono adapter) served from Node by @hono/node-server, standing
// in for a framework app such as the seeds' Next.js service: the handler is mounted on a
// route of an app that has routes of its own.
//
// Environment as app.js: NODE_SDK, PORT, APP_ID, APP_SET, ACCEPT_RECORD_FILE, INNGEST_*.

import process from "node:process";

import { serve as listen } from "@hono/node-server";
import { Hono } from "hono";

import { functionsFor } from "./sets.js";
import { line, loadAdapter, newClient } from "./sdk.js";

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error(`PORT=${process.env.PORT} is not a port`);
const appId = process.env.APP_ID || `hono-v${line}`;

const client = newClient(appId);
const functions = await functionsFor(process.env.APP_SET || "core", client, appId);
const { serve } = await loadAdapter("hono");

const app = new Hono();
app.get("/health", (c) => c.json({ ok: true }));
app.on(["GET", "PUT", "POST"], "/api/inngest", serve({ client, functions }));

const server = listen({ fetch: app.fetch, hostname: "127.0.0.1", port }, () => {
  console.log(`${appId} (inngest ${line}, hono on node ${process.version}) on 127.0.0.1:${port}`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
