// Echo server for benchmarks/engineio_echo.py: Node engine.io 6.6 attached to an http server.
//
// Usage: NODE_PATH=tests/node/node_modules node node_engineio.js PING_INTERVAL_SECONDS
// Listens on 127.0.0.1, port 0, prints one JSON line {"port": N, "impl": ...} once
// listening, and echoes every message back as it came until SIGTERM or SIGINT.
// engine.io's defaults otherwise (perMessageDeflate false, httpCompression threshold 1024).
"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");
const engine = require("engine.io");

const pingMs = Math.round(1000 * Number(process.argv[2] || 300));
const httpServer = http.createServer();
const server = new engine.Server({ pingInterval: pingMs, pingTimeout: pingMs });
server.attach(httpServer);

server.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(data));
});

httpServer.listen(0, "127.0.0.1", () => {
  const version = packageVersion("engine.io");
  const wsVersion = packageVersion("ws");
  process.stdout.write(
    JSON.stringify({
      port: httpServer.address().port,
      impl: `engine.io ${version} (ws ${wsVersion}) on node ${process.version} http`,
    }) + "\n",
  );
});

// The version of an installed package (its package.json is not in its "exports").
function packageVersion(name) {
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
      if (pkg.name === name) return pkg.version;
    }
    if (path.dirname(dir) === dir) return "?";
    dir = path.dirname(dir);
  }
}

function stop() {
  server.close();
  httpServer.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
