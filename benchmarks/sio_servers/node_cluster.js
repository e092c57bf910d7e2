// Socket.IO server for benchmarks/workers_bench.py: Node socket.io 4.8 on the `cluster` module,
// set up as socket.io documents it for several cores on one machine: `@socket.io/sticky` in the
// primary (it accepts every TCP connection, reads the first request, and hands the connection
// to the worker that owns the request's sid, a new session to the next worker) and
// `@socket.io/cluster-adapter` (a broadcast in one worker reaches the clients of the others
// through the primary, over the cluster's IPC channels).
//
// The balancing of new sessions is "round-robin" by default. The README's "least-connection"
// counts a worker's sessions only once the worker has reported them, so a burst of new
// connections (10 WebSocket clients opened at once) all go to the same worker; round-robin
// spreads them evenly, so Node's cluster is measured at its best.
//
// Usage: NODE_PATH=tests/node/node_modules node node_cluster.js PING_INTERVAL_SECONDS WORKERS
//   [round-robin|least-connection|random]
// The primary listens on 127.0.0.1, port 0, and prints one JSON line
// {"port": N, "impl": ..., "pids": [primary, worker...]} once every worker is ready; it
// serves until SIGTERM or SIGINT, and then stops its workers. The handlers are those of
// node_socketio.js (echo, join, fanout).
"use strict";

const cluster = require("cluster");
const fs = require("fs");
const http = require("http");
const path = require("path");
const { Server } = require("socket.io");
const { setupMaster, setupWorker } = require("@socket.io/sticky");
const { createAdapter, setupPrimary } = require("@socket.io/cluster-adapter");

const pingMs = Math.round(1000 * Number(process.argv[2] || 300));
const workers = Number(process.argv[3] || 2);
const balancing = process.argv[4] || "round-robin";
const READY = "workers-bench:ready";

if (cluster.isPrimary) {
  const httpServer = http.createServer();
  setupMaster(httpServer, { loadBalancingMethod: balancing });
  setupPrimary();
  cluster.setupPrimary({ serialization: "advanced" });
  let ready = 0;
  const startLimit = setTimeout(() => {
    process.stderr.write(`only ${ready} of ${workers} workers ready after 20 s\n`);
    stop(1);
  }, 20000);
  cluster.on("message", (worker, message) => {
    if (message && message.type === READY && ++ready === workers) {
      clearTimeout(startLimit);
      httpServer.listen({ port: 0, host: "127.0.0.1", backlog: 2048 }, () => {
        const pids = [process.pid, ...Object.values(cluster.workers).map((w) => w.process.pid)];
        process.stdout.write(
          JSON.stringify({
            port: httpServer.address().port,
            impl:
              `socket.io ${packageVersion("socket.io")} on node ${process.version} cluster, ` +
              `${workers} workers, @socket.io/sticky ${packageVersion("@socket.io/sticky")} ` +
              `(${balancing}) + @socket.io/cluster-adapter ` +
              `${packageVersion("@socket.io/cluster-adapter")}`,
            pids,
          }) + "\n",
        );
      });
    }
  });
  let stopping = false;
  cluster.on("exit", (worker, code) => {
    if (!stopping) process.stderr.write(`worker ${worker.process.pid} exited with ${code}\n`);
  });
  for (let i = 0; i < workers; i++) cluster.fork();

  function stop(code) {
    stopping = true;
    httpServer.close();
    for (const w of Object.values(cluster.workers)) w.kill("SIGTERM");
    setTimeout(() => process.exit(code), 2000).unref();
    const check = setInterval(() => {
      if (Object.keys(cluster.workers).length === 0) {
        clearInterval(check);
        process.exit(code);
      }
    }, 50);
  }
  process.on("SIGTERM", () => stop(0));
  process.on("SIGINT", () => stop(0));
} else {
  const httpServer = http.createServer();
  const io = new Server(httpServer, { pingInterval: pingMs, pingTimeout: pingMs });
  io.adapter(createAdapter());
  setupWorker(io);

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
  process.send({ type: READY });
  process.on("SIGTERM", () => {
    io.close();
    process.exit(0);
  });
}

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
