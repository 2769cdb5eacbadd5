// Which functions an app serves (APP_SET): the core behaviours, or one side of the mixed
// cases (two runtimes on one server; a TypeScript app beside a Python one).

import { coreFunctions } from "./functions.js";
import { define, record, runtime, sdk } from "./sdk.js";

const keyOf = (event) => String(event?.data?.key ?? "");

// The edge side of the seeds' dual-endpoint layout: the cron and the bridge functions.
function seedsEdge(client) {
  const nightly = define(client, { id: "nightly" }, { cron: "* * * * *" }, async ({ event }) => {
    record("tick", { fn: "nightly", app: "seeds-edge", name: event.name, event_id: event.id });
    return { runtime };
  });
  const bridge = define(
    client,
    { id: "bridge" },
    { event: "seeds/doc.created" },
    async ({ event, step }) => {
      const key = keyOf(event);
      const doc = await step.run("prepare", () => {
        record("step", { fn: "bridge", step: "prepare", key, app: "seeds-edge" });
        return { key, words: String(event.data.text ?? "").split(" ").length };
      });
      await step.sendEvent("to-embeddings", { name: "seeds/embed.requested", data: doc });
      return { runtime, doc };
    },
  );
  const bridgeBack = define(
    client,
    { id: "bridge-back" },
    { event: "seeds/embed.done" },
    async ({ event, step }) => {
      const key = keyOf(event);
      await step.run("store", () => {
        record("step", { fn: "bridge-back", step: "store", key, app: "seeds-edge", data: event.data });
        return key;
      });
      return { runtime };
    },
  );
  return [nightly, bridge, bridgeBack];
}

// The Node side: the embeddings work the bridge hands over.
function seedsNode(client) {
  const embed = define(
    client,
    { id: "embed" },
    { event: "seeds/embed.requested" },
    async ({ event, step }) => {
      const key = keyOf(event);
      const vector = await step.run("embed", () => {
        record("step", { fn: "embed", step: "embed", key, app: "seeds-embed" });
        return [event.data.words, event.data.words * 2];
      });
      await step.sendEvent("done", { name: "seeds/embed.done", data: { key, vector } });
      return { runtime, vector };
    },
  );
  return [embed];
}

// The framework app of the seeds: it generates a document and hands it to the bridge.
function seedsHono(client) {
  const generate = define(
    client,
    { id: "generate" },
    { event: "seeds/generate.requested" },
    async ({ event, step }) => {
      const key = keyOf(event);
      const text = await step.run("write", () => {
        record("step", { fn: "generate", step: "write", key, app: "seeds-hono" });
        return `seed ${key} text`;
      });
      await step.sendEvent("created", { name: "seeds/doc.created", data: { key, text } });
      return { runtime, text };
    },
  );
  return [generate];
}

// The TypeScript half of the polyglot case; the Python half is tests/node/apps/polyglot_app.py.
function polyglot(client) {
  const square = define(client, { id: "square" }, { event: "poly/ts.square" }, async ({ event, step }) => {
    const key = keyOf(event);
    return await step.run("square", () => {
      record("step", { fn: "square", step: "square", key, app: "poly-ts" });
      return { square: Number(event.data.n) ** 2, key };
    });
  });
  const caller = define(client, { id: "caller" }, { event: "poly/ts.call" }, async ({ event, step }) => {
    const key = keyOf(event);
    const doubled = await step.invoke("call-python", {
      function: sdk.referenceFunction({ appId: "poly-py", functionId: "double" }),
      data: { key, n: event.data.n },
    });
    return { from_python: doubled };
  });
  const fromPython = define(client, { id: "from-python" }, { event: "poly/from.py" }, async ({ event }) => {
    record("received", { fn: "from-python", key: keyOf(event), data: event.data, app: "poly-ts" });
    return { got: event.data };
  });
  return [square, caller, fromPython];
}

export async function functionsFor(set, client, prefix) {
  switch (set) {
    case "core":
      return coreFunctions(client, prefix);
    case "seeds-edge":
      return seedsEdge(client);
    case "seeds-node":
      return seedsNode(client);
    case "seeds-hono":
      return seedsHono(client);
    case "polyglot":
      return polyglot(client);
    default:
      throw new Error(`APP_SET=${set} is not a function set; expected core, seeds-edge, seeds-node, seeds-hono or polyglot`);
  }
}
