// Serves a fetch-style handler (Request -> Response) from node:http, for running edge.js
// under Node when Deno is not there.

import http from "node:http";
import process from "node:process";

export function bridge(handle, port, onListen) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", async () => {
      const body = chunks.length ? Buffer.concat(chunks) : undefined;
      const request = new Request(`http://${req.headers.host}${req.url}`, {
        method: req.method,
        headers: Object.entries(req.headers).flatMap(([k, v]) =>
          Array.isArray(v) ? v.map((x) => [k, x]) : [[k, String(v)]],
        ),
        body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
      });
      try {
        const response = await handle(request);
        res.writeHead(response.status, Object.fromEntries(response.headers));
        res.end(Buffer.from(await response.arrayBuffer()));
      } catch (err) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(err?.stack ?? err));
      }
    });
  });
  server.listen(port, "127.0.0.1", onListen);
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
