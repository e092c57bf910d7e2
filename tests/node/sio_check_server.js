// A Node socket.io 4.8 server configured as the official Socket.IO test suite expects
// (socket.io-protocol-v5.md "Test suite"), for `python -m socketio_core check`.
//
// Usage: node sio_check_server.js ['{"pingInterval":300,...}']
// Prints {"port": N} once listening on 127.0.0.1 (any free port).
//   on connection (/ and /custom): emits "auth" with the CONNECT payload
//   message(...args)            emits "message-back" with the same arguments
//   message-with-ack(...args)   acks with the same arguments
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const options = Object.assign(
  { pingInterval: 300, pingTimeout: 200, maxHttpBufferSize: 1e6, connectTimeout: 1000 },
  JSON.parse(process.argv[2] || "{}"),
);
const httpServer = http.createServer();
const io = new Server(httpServer, options);

io.on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    ack(...args);
  });
});

io.of("/custom").on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
});

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
});
