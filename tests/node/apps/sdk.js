// What every Node test app shares: the SDK line it runs on, the journal it writes, and the
// one place where the two lines' createFunction signatures differ.
//
// NODE_SDK picks the line ("3" or "4"); both are installed side by side under npm aliases
// (inngest3, inngest4), so one app source runs on either. Configuration reaches the SDK
// only through its own environment variables (INNGEST_DEV, INNGEST_BASE_URL,
// INNGEST_SIGNING_KEY, INNGEST_EVENT_KEY), as a team pointing an existing app at Inlet would.

import { appendFileSync } from "node:fs";
import process from "node:process";

export const line = String(process.env.NODE_SDK || "4");
if (line !== "3" && line !== "4") {
  throw new Error(`NODE_SDK=${line} is not an SDK line; expected 3 or 4`);
}

const entry = (path) => `inngest${line}${path}`;

export const sdk = await import(entry(""));
export const runtime = globalThis.Deno ? "deno" : "node";

export async function loadAdapter(name) {
  return await import(entry(`/${name}`));
}

const recordFile = process.env.ACCEPT_RECORD_FILE;

// One JSON line per observable effect; a single append keeps concurrent lines whole.
export function record(kind, fields = {}) {
  if (!recordFile) throw new Error("ACCEPT_RECORD_FILE is not set");
  const line = JSON.stringify({ kind, t: Date.now() / 1000, pid: process.pid, runtime, ...fields });
  appendFileSync(recordFile, line + "\n");
}

// The v3 signature is createFunction(options, trigger, handler); v4 moved the triggers into
// the options (createFunction({ ...options, triggers }, handler)).
export function define(client, options, triggers, handler) {
  if (line === "3") return client.createFunction(options, triggers, handler);
  return client.createFunction({ ...options, triggers }, handler);
}

export function newClient(id) {
  return new sdk.Inngest({ id });
}
