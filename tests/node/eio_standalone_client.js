// An engine.io-client 6.6 peer for tests/engineio_core/aio/test_eio_interop.py.
//
// Usage: node eio_standalone_client.js URL '{"transports":["polling"],"upgrade":true}'
// The JSON argument holds engine.io-client Socket options (transports, upgrade...).
//
// It writes one JSON object per line on stdout:
//   {"event": "open", "sid": ..., "transport": ...}
//   {"event": "upgrade", "transport": ...}
//   {"event": "message", "type": "text", "data": ...}
//   {"event": "message", "type": "binary", "data": <base64>}
//   {"event": "close", "reason": ...}
// and reads one JSON command per line on stdin:
//   {"send": "text"}             send a text message
//   {"sendBinary": "<base64>"}   send a binary message
//   {"burst": N, "prefix": "m"}  send N text messages prefix0..prefixN-1 in one go
//   {"close": true}              close the socket
// It exits when stdin is closed.
"use strict";

const readline = require("readline");
const { Socket } = require("engine.io-client");

const url = process.argv[2];
const options = JSON.parse(process.argv[3] || "{}");

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const socket = new Socket(url, options);

socket.on("open", () => {
  report({ event: "open", sid: socket.id, transport: socket.transport.name });
});
socket.on("upgrade", (transport) => {
  report({ event: "upgrade", transport: transport.name });
});
socket.on("message", (data) => {
  if (data === undefined) {
    // engine.io-parser decodes the empty message "4" as a packet without data.
    report({ event: "message", type: "text", data: "" });
  } else if (typeof data === "string") {
    report({ event: "message", type: "text", data });
  } else {
    report({ event: "message", type: "binary", data: Buffer.from(data).toString("base64") });
  }
});
socket.on("close", (reason) => {
  // Do not exit here: a close packet may still be on its way (polling POSTs it). The test
  // closes stdin once the server has seen the end.
  report({ event: "close", reason });
});

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const cmd = JSON.parse(line);
  if (cmd.send !== undefined) {
    socket.send(cmd.send);
  } else if (cmd.sendBinary !== undefined) {
    socket.send(Buffer.from(cmd.sendBinary, "base64"));
  } else if (cmd.burst !== undefined) {
    for (let i = 0; i < cmd.burst; i++) socket.send(cmd.prefix + i);
  } else if (cmd.close) {
    socket.close();
  }
});
rl.on("close", () => process.exit(0));
