// Socket.IO server for benchmarks/socketio_bench.py: Node socket.io 4.8 on a plain http server.
//
// Usage: NODE_PATH=tests/node/node_modules node node_socketio.js PING_INTERVAL_SECONDS
// Listens on 127.0.0.1, port 0, prints one JSON line {"port": N, "impl": ...} once
// listening, and serves until SIGTERM or SIGINT. socket.io's defaults otherwise
// (perMessageDeflate false, httpCompression threshold 1024, in-memory adapter).
// Handlers: the same as ours_standalone.py:
//   echo(data, ack)   acks data
//   join(ack)         joins "room", acks true
//   fanout(n, ack)    emits "tick" with 0 .. n-1 to "room", then acks n
"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");
const { Server } = require("socket.io");

const pingMs = Math.round(1000 * Number(process.argv[2] || 300));
const httpServer = http.createServer();
const io = new Server(httpServer, { pingInterval: pingMs, pingTimeout: pingMs });

io.on("connection", (socket) => {
  socket.on("echo", (data, ack) => ack(data));
  socket.on("join", (ack) => {
    socket.join("room");
    ack(true);
  });
  socket.on("fanout", (n, ack) => {
    for (let i = 0; i < n; i++) io.to("room").emit("tick", i);
    ack(n);
  });
});

httpServer.listen({ port: 0, host: "127.0.0.1", backlog: 2048 }, () => {
  process.stdout.write(
    JSON.stringify({
      port: httpServer.address().port,
      impl:
        `socket.io ${packageVersion("socket.io")} (engine.io ${packageVersion("engine.io")}, ` +
        `ws ${packageVersion("ws")}) on node ${process.version} http`,
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
  io.close();
  httpServer.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
