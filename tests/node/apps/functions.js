// The functions the Node acceptance tests run, one per behaviour, on either SDK line.
//
// Every event carries a unique data.key chosen by the test and every step body records it,
// so tests sharing one app never read each other's effects. Event names start with the
// app id (node-v3/..., node-v4/...): two apps on one server never trigger each other.

import { define, record, sdk } from "./sdk.js";

const keyOf = (event) => String(event?.data?.key ?? "");

// A body that fails once keeps its count in memory per key: the app process outlives
// every run of a test module.
const seen = new Map();
function bump(name) {
  const n = (seen.get(name) ?? 0) + 1;
  seen.set(name, n);
  return n;
}

export function coreFunctions(client, prefix) {
  const ev = (name) => `${prefix}/${name}`;

  const multi = define(client, { id: "multi" }, { event: ev("multi") }, async ({ event, step }) => {
    const key = keyOf(event);
    const a = await step.run("one", () => {
      record("step", { fn: "multi", step: "one", key });
      return Number(event.data.x) + 1;
    });
    const b = await step.run("two", () => {
      record("step", { fn: "multi", step: "two", key });
      return a * 10;
    });
    const c = await step.run("three", () => {
      record("step", { fn: "multi", step: "three", key });
      return `${b}-three`;
    });
    return { one: a, two: b, three: c };
  });

  const parallel = define(
    client,
    { id: "parallel" },
    { event: ev("parallel") },
    async ({ event, step }) => {
      const key = keyOf(event);
      const branch = (name, ms) =>
        step.run(name, async () => {
          // Branches end in a known order (c, b, a) so ctx.stack's order can be checked.
          await new Promise((resolve) => setTimeout(resolve, ms));
          record("step", { fn: "parallel", step: name, key });
          return name.toUpperCase();
        });
      const [a, b, c] = await Promise.all([branch("a", 1600), branch("b", 800), branch("c", 0)]);
      const d = await step.run("d", () => {
        record("step", { fn: "parallel", step: "d", key });
        return a + b + c + "D";
      });
      return { a, b, c, d };
    },
  );

  const sleeper = define(client, { id: "sleeper" }, { event: ev("sleep") }, async ({ event, step }) => {
    const key = keyOf(event);
    const before = await step.run("before", () => {
      record("step", { fn: "sleeper", step: "before", key });
      return Date.now();
    });
    await step.sleep("nap-string", "1s");
    await step.sleep("nap-ms", 500);
    await step.sleepUntil("nap-until", new Date(before + 2000));
    const after = await step.run("after", () => {
      record("step", { fn: "sleeper", step: "after", key });
      return Date.now();
    });
    return { slept_ms: after - before };
  });

  const waiter = define(client, { id: "waiter" }, { event: ev("wait") }, async ({ event, step }) => {
    const key = keyOf(event);
    await step.run("ready", () => {
      record("step", { fn: "waiter", step: "ready", key });
      return key;
    });
    const approval = await step.waitForEvent("approval", {
      event: ev("approve"),
      timeout: event.data.timeout ?? "30s",
      match: "data.key",
    });
    return { approved: approval ? approval.data : null };
  });

  const child = define(client, { id: "child" }, { event: ev("child") }, async ({ event, step }) => {
    const key = keyOf(event);
    return await step.run("square", () => {
      record("step", { fn: "child", step: "square", key });
      return { square: Number(event.data.n) ** 2, key };
    });
  });

  const parent = define(client, { id: "parent" }, { event: ev("parent") }, async ({ event, step }) => {
    const key = keyOf(event);
    const result = await step.invoke("call-child", {
      function: child,
      data: { key, n: event.data.n },
    });
    const total = await step.run("after-invoke", () => {
      record("step", { fn: "parent", step: "after-invoke", key });
      return result.square + 1;
    });
    return { child: result, total };
  });

  const sender = define(client, { id: "sender" }, { event: ev("send") }, async ({ event, step }) => {
    const key = keyOf(event);
    const sent = await step.sendEvent("emit", { name: ev("sent"), data: { key, from: "sender" } });
    return { ids: sent.ids };
  });

  const receiver = define(client, { id: "receiver" }, { event: ev("sent") }, async ({ event }) => {
    record("received", { fn: "receiver", key: keyOf(event), event_id: event.id, data: event.data });
    return { got: event.data };
  });

  const flaky = define(
    client,
    { id: "flaky", retries: 3 },
    { event: ev("flaky") },
    async ({ event, step, attempt }) => {
      const key = keyOf(event);
      return await step.run("wobble", () => {
        const n = bump(`flaky:${key}`);
        record("step", { fn: "flaky", step: "wobble", key, attempt });
        if (n === 1) {
          const err = new TypeError(`wobble failed once for ${key}`);
          throw err;
        }
        return { executions: n };
      });
    },
  );

  const catcher = define(
    client,
    { id: "catcher", retries: 1 },
    { event: ev("catcher") },
    async ({ event, step }) => {
      const key = keyOf(event);
      try {
        await step.run("always-fails", () => {
          record("step", { fn: "catcher", step: "always-fails", key });
          throw new SyntaxError(`always fails for ${key}`);
        });
        return { caught: null };
      } catch (err) {
        return { caught: { name: err?.name, message: err?.message } };
      }
    },
  );

  // Step shapes off the main path: a step that returns nothing, one id used in a loop,
  // several events sent at once, a wait with an `if` expression and a timeout in ms, and
  // an invoke that times out.
  const oddSteps = define(client, { id: "odd-steps" }, { event: ev("odd") }, async ({ event, step }) => {
    const key = keyOf(event);
    const nothing = await step.run("nothing", () => {
      record("step", { fn: "odd-steps", step: "nothing", key });
    });
    const looped = [];
    for (let i = 0; i < 3; i++) {
      looped.push(
        await step.run("same-id", () => {
          record("step", { fn: "odd-steps", step: "same-id", key, i });
          return i;
        }),
      );
    }
    const sent = await step.sendEvent("emit-two", [
      { name: ev("sent"), data: { key: `${key}-1`, from: "odd" } },
      { name: ev("sent"), data: { key: `${key}-2`, from: "odd" } },
    ]);
    const waited = await step.waitForEvent("wait-if", {
      event: ev("approve"),
      timeout: 30000,
      if: `async.data.key == "${key}" && async.data.ok == true`,
    });
    let invokeError = null;
    try {
      await step.invoke("slow-child", { function: slowChild, data: { key }, timeout: "1s" });
    } catch (err) {
      invokeError = { name: err?.name, message: err?.message };
    }
    return { nothing: nothing ?? null, looped, sent: sent.ids.length, waited, invokeError };
  });

  const slowChild = define(client, { id: "slow-child" }, { event: ev("slow-child") }, async ({ event, step }) => {
    await step.sleep("too-long", "20s");
    return { key: keyOf(event) };
  });

  const batched = define(
    client,
    { id: "batched", batchEvents: { maxSize: 3, timeout: "2s" } },
    { event: ev("batch") },
    async ({ events }) => {
      record("batch", { fn: "batched", keys: events.map(keyOf) });
      return { size: events.length };
    },
  );

  // Flow-control options the register payload must carry through (each is exercised on
  // the Python side); this function proves Inlet accepts them in the TS dialects.
  const configured = define(
    client,
    {
      id: "configured",
      debounce: { period: "1s", key: "event.data.key" },
      throttle: { limit: 10, period: "1m" },
      rateLimit: { limit: 100, period: "1h", key: "event.data.key" },
      priority: { run: "event.data.tier == 'gold' ? 120 : 0" },
      timeouts: { start: "1m", finish: "5m" },
      idempotency: "event.data.key",
    },
    { event: ev("configured") },
    async ({ event }) => {
      record("run", { fn: "configured", key: keyOf(event) });
      return { key: keyOf(event) };
    },
  );

  // A parallel group where one branch fails once: the others are not run again.
  const parallelFlaky = define(
    client,
    { id: "parallel-flaky", retries: 2 },
    { event: ev("parallel-flaky") },
    async ({ event, step }) => {
      const key = keyOf(event);
      const branch = (name, fails) =>
        step.run(name, () => {
          const n = bump(`parallel-flaky:${key}:${name}`);
          record("step", { fn: "parallel-flaky", step: name, key, n });
          if (fails && n === 1) throw new EvalError(`${name} fails once`);
          return `${name}${n}`;
        });
      const out = await Promise.all([branch("steady", false), branch("shaky", true), branch("calm", false)]);
      return { out };
    },
  );

  // An invoked function that fails: its error reaches the caller, which catches it.
  const doomed = define(client, { id: "doomed", retries: 0 }, { event: ev("doomed") }, async ({ event }) => {
    throw new URIError(`doomed ${keyOf(event)}`);
  });
  const invokesDoomed = define(
    client,
    { id: "invokes-doomed" },
    { event: ev("invoke-doomed") },
    async ({ event, step }) => {
      const key = keyOf(event);
      try {
        await step.invoke("call-doomed", { function: doomed, data: { key } });
        return { caught: null };
      } catch (err) {
        return { caught: { name: err?.name, message: err?.message } };
      }
    },
  );

  // A NonRetriableError thrown inside a step: no retry of the step, and the function
  // sees it like any step error.
  const stepGivesUp = define(
    client,
    { id: "step-gives-up", retries: 3 },
    { event: ev("step-gives-up") },
    async ({ event, step }) => {
      const key = keyOf(event);
      try {
        await step.run("give-up", () => {
          record("step", { fn: "step-gives-up", step: "give-up", key });
          throw new sdk.NonRetriableError(`no point retrying ${key}`);
        });
        return { caught: null };
      } catch (err) {
        return { caught: { message: err?.message } };
      }
    },
  );

  const withFailure = define(
    client,
    {
      id: "with-failure",
      retries: 0,
      onFailure: async ({ event, error }) => {
        const original = event.data?.event ?? {};
        record("on_failure", {
          key: keyOf(original),
          name: event.name,
          error: event.data?.error ?? null,
          handler_error: { name: error?.name, message: error?.message },
        });
      },
    },
    { event: ev("with-failure") },
    async ({ event }) => {
      throw new RangeError(`boom ${keyOf(event)}`);
    },
  );

  const nonRetriable = define(
    client,
    { id: "non-retriable", retries: 3 },
    { event: ev("non-retriable") },
    async ({ event, attempt }) => {
      record("exec", { fn: "non-retriable", key: keyOf(event), attempt });
      throw new sdk.NonRetriableError("non-retriable: give up now");
    },
  );

  const retryAfter = define(
    client,
    { id: "retry-after", retries: 3 },
    { event: ev("retry-after") },
    async ({ event, attempt }) => {
      const key = keyOf(event);
      const n = bump(`retry-after:${key}`);
      record("exec", { fn: "retry-after", key, attempt });
      if (n === 1) throw new sdk.RetryAfterError("come back later", 2000);
      return { executions: n };
    },
  );

  const cancellable = define(
    client,
    { id: "cancellable", cancelOn: [{ event: ev("cancel"), match: "data.key" }] },
    { event: ev("cancellable") },
    async ({ event, step }) => {
      const key = keyOf(event);
      await step.run("started", () => {
        record("step", { fn: "cancellable", step: "started", key });
        return key;
      });
      await step.sleep("long-nap", "60s");
      await step.run("never", () => {
        record("step", { fn: "cancellable", step: "never", key });
        return key;
      });
    },
  );

  const ticker = define(client, { id: "ticker" }, { cron: "* * * * *" }, async ({ event }) => {
    record("tick", { fn: "ticker", prefix, name: event.name, event_id: event.id });
    return { ticked: true };
  });

  const single = define(
    client,
    { id: "single", singleton: { key: "event.data.group", mode: "skip" } },
    { event: ev("single") },
    async ({ event, step }) => {
      const key = keyOf(event);
      await step.run("hold", async () => {
        record("step", { fn: "single", step: "hold", key });
        await new Promise((resolve) => setTimeout(resolve, 2500));
        return key;
      });
      return { key };
    },
  );

  const limited = define(
    client,
    { id: "limited", concurrency: { limit: 1, key: "event.data.group" } },
    { event: ev("limited") },
    async ({ event, step }) => {
      const key = keyOf(event);
      return await step.run("work", async () => {
        const start = Date.now() / 1000;
        await new Promise((resolve) => setTimeout(resolve, 400));
        record("span", { fn: "limited", key, start, end: Date.now() / 1000 });
        return key;
      });
    },
  );

  return [
    multi,
    parallel,
    sleeper,
    waiter,
    child,
    parent,
    sender,
    receiver,
    flaky,
    parallelFlaky,
    doomed,
    invokesDoomed,
    stepGivesUp,
    catcher,
    oddSteps,
    slowChild,
    batched,
    configured,
    withFailure,
    nonRetriable,
    retryAfter,
    cancellable,
    ticker,
    single,
    limited,
  ];
}

