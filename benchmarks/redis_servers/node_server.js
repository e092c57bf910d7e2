// Node socket.io 4.8 server on @socket.io/redis-adapter 8.x (classic createAdapter), for
// benchmarks/node_mixed_fanout.py. The same handlers as ours.py / pysocketio.py:
//   join()      enters the room "room", acks true;
//   fanout(n)   emits "tick" 0 .. n-1 to "room", then acks n.
//
// Usage: NODE_PATH=tests/node/node_modules node node_server.js REDIS_URL KEY PEERS
// Prints {"port", "pid", "impl"} once it listens and `serverCount()` counts PEERS other
// servers (bounded: 20 s), then serves until SIGTERM.
"use strict";

const http = require("http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-adapter");

const [url, key, peers] = [process.argv[2], process.argv[3], Number(process.argv[4] || 0)];

async function main() {
  const pub = createClient({ url });
  const sub = pub.duplicate();
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(pub, sub, { key }),
    pingInterval: 300000,
    pingTimeout: 300000,
    transports: ["websocket"],
  });
  io.on("connection", (socket) => {
    socket.on("join", (ack) => {
      socket.join("room");
      ack(true);
    });
    socket.on("fanout", (n, ack) => {
      for (let i = 0; i < n; i++) io.to("room").emit("tick", i);
      ack(n);
    });
  });
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const deadline = Date.now() + 20000;
  while ((await io.of("/").adapter.serverCount()) < peers + 1 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20)); // membership is counted by Redis
  }
  const impl = `node ${process.version}, socket.io ${require("socket.io/package.json").version}, ` +
    `@socket.io/redis-adapter ${require("@socket.io/redis-adapter/package.json").version}`;
  process.stdout.write(JSON.stringify({ port: httpServer.address().port, pid: process.pid, impl }) + "\n");
  process.on("SIGTERM", () => process.exit(0));
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack}\n`);
  process.exit(1);
});
