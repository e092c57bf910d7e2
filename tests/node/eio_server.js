// A Node engine.io 6.6 test server for tests/engineio_core/aio/test_eio_client.py.
//
// Usage: node eio_server.js ['{"pingInterval":300,"pingTimeout":200,...}']
// The optional JSON argument (or the EIO_SERVER_OPTIONS environment variable) holds
// engine.io Server options: pingInterval, pingTimeout, transports, allowUpgrades,
// maxHttpBufferSize, upgradeTimeout...
//
// It listens on 127.0.0.1, port 0, and writes one JSON object per line on stdout:
//   {"port": N}                          once listening
//   {"event": "connection", "sid": ..., "transport": ...}
//   {"event": "upgrade", "sid": ..., "transport": ...}
//   {"event": "close", "sid": ..., "reason": ...}
// Every message is echoed back as it came (text as text, binary as binary), except the
// text message "__close__", which makes the server close the socket.
"use strict";

const http = require("http");
const engine = require("engine.io");

const raw = process.argv[2] || process.env.EIO_SERVER_OPTIONS || "{}";
const options = JSON.parse(raw);

const httpServer = http.createServer();
const server = new engine.Server(options);
server.attach(httpServer);

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

server.on("connection", (socket) => {
  report({ event: "connection", sid: socket.id, transport: socket.transport.name });
  socket.on("upgrade", (transport) => {
    report({ event: "upgrade", sid: socket.id, transport: transport.name });
  });
  socket.on("message", (data) => {
    if (data === "__close__") {
      socket.close();
      return;
    }
    socket.send(data);
  });
  socket.on("close", (reason) => {
    report({ event: "close", sid: socket.id, reason });
  });
});

httpServer.listen(0, "127.0.0.1", () => {
  report({ port: httpServer.address().port });
});

process.on("SIGTERM", () => process.exit(0));
