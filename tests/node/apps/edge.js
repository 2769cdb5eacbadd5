// The fetch-style endpoint (the SDK's inngest/edge handler: Request in, Response out), as a
// Deno function on an edge platform serves it. Under Deno it is served by Deno.serve; under
// Node (no Deno) by a small node:http bridge, so the same source runs in both.
//
// Environment as app.js: NODE_SDK, PORT, APP_ID, APP_SET, ACCEPT_RECORD_FILE, INNGEST_*.

import process from "node:process";

import { functionsFor } from "./sets.js";
import { line, loadAdapter, newClient, runtime } from "./sdk.js";

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error(`PORT=${process.env.PORT} is not a port`);
const appId = process.env.APP_ID || `edge-v${line}`;

const client = newClient(appId);
const functions = await functionsFor(process.env.APP_SET || "core", client, appId);
const { serve } = await loadAdapter("edge");
const inngestHandler = serve({ client, functions });

async function handle(request) {
  const url = new URL(request.url);
  if (url.pathname !== "/api/inngest") return new Response("not found", { status: 404 });
  return await inngestHandler(request);
}

const banner = `${appId} (inngest ${line}, ${runtime}) on 127.0.0.1:${port}`;

if (globalThis.Deno) {
  const server = globalThis.Deno.serve({ hostname: "127.0.0.1", port, onListen: () => console.log(banner) }, handle);
  const stop = () => server.shutdown().then(() => process.exit(0));
  globalThis.Deno.addSignalListener("SIGTERM", stop);
  globalThis.Deno.addSignalListener("SIGINT", stop);
} else {
  const { bridge } = await import("./fetch_bridge.js");
  bridge(handle, port, () => console.log(banner));
}
