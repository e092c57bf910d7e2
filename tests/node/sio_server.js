// A Node socket.io 4.8 test server for tests/socketio_core/aio/test_sio_client.py.
//
// Usage: node sio_server.js ['{"port":0,"pingInterval":300,...}']
//   port            the port to listen on, on 127.0.0.1 (0: any free port). A restarted
//                   server is given the port of the one that was killed.
//   other keys      socket.io Server options (pingInterval, pingTimeout, transports...).
//
// It writes one JSON object per line on stdout (binary values as {"$bin": HEX}):
//   {"port": N}                                          once listening
//   {"event": "connect", "nsp": ..., "id": ..., "auth": ...}
//   {"event": "recv", "nsp": ..., "name": ..., "args": [...]}   every event received
//   {"event": "disconnect", "nsp": ..., "reason": ...}
//
// Namespaces "/" and "/chat" behave the same:
//   echo(...args)            emits "echo" with the same arguments
//   sum(a, b, ack)           acks a + b
//   ask(round)               calls the client's "question" ({q: round}) with an ack, then
//                            emits "answer" with the ack's arguments
//   bin(blob, ack)           acks {reversed: blob reversed}; emits "bin" with blob
//   leave()                  the server disconnects this socket
//   slow(ack)                never acks
// A CONNECT whose auth.token is "bad" is refused: {message: "Not authorized",
// data: {reason: "bad token"}}.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const options = JSON.parse(process.argv[2] || "{}");
const port = options.port || 0;
delete options.port;

function plain(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("hex") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("hex") };
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const [key, item] of Object.entries(value)) out[key] = plain(item);
    return out;
  }
  return value;
}

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const httpServer = http.createServer();
const io = new Server(httpServer, options);

function setUp(nsp) {
  nsp.use((socket, next) => {
    const auth = socket.handshake.auth || {};
    if (auth.token === "bad") {
      const err = new Error("Not authorized");
      err.data = { reason: "bad token" };
      return next(err);
    }
    next();
  });
  nsp.on("connection", (socket) => {
    report({ event: "connect", nsp: nsp.name, id: socket.id, auth: socket.handshake.auth });
    socket.onAny((name, ...args) => {
      const shown = args.length && typeof args[args.length - 1] === "function" ? args.slice(0, -1) : args;
      report({ event: "recv", nsp: nsp.name, name, args: plain(shown) });
    });
    socket.on("echo", (...args) => {
      if (args.length && typeof args[args.length - 1] === "function") args.pop();
      socket.emit("echo", ...args);
    });
    socket.on("sum", (a, b, ack) => ack(a + b));
    socket.on("ask", (round) => {
      socket.timeout(5000).emit("question", { q: round }, (err, ...reply) => {
        if (err) socket.emit("answer", { error: err.message });
        else socket.emit("answer", ...reply);
      });
    });
    socket.on("bin", (blob, ack) => {
      socket.emit("bin", blob);
      ack({ reversed: Buffer.from(blob).reverse() });
    });
    socket.on("leave", () => socket.disconnect());
    socket.on("slow", () => {});
    socket.on("disconnect", (reason) => report({ event: "disconnect", nsp: nsp.name, reason }));
  });
}

setUp(io.of("/"));
setUp(io.of("/chat"));

httpServer.listen(port, "127.0.0.1", () => {
  report({ port: httpServer.address().port });
});

process.on("SIGTERM", () => process.exit(0));
