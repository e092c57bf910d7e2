// Node's socket.io-client 4.8 with connection state recovery, for
// tests/socketio_core/recovery/test_recovery_node.py.
//
// Usage: node sio_recovery_client.js URL TRANSPORTS ['{"auth": {...}}']
//   URL         the server (the test's cutting proxy), e.g. http://127.0.0.1:8000
//   TRANSPORTS  polling or websocket
//
// It connects (reconnecting fast: 50-100 ms, no randomization) and writes one JSON object per
// line on stdout:
//   {"event": "connect", "id": ..., "recovered": true|false}
//   {"event": "recv", "name": ..., "args": [...]}      every event, as received (offset included)
//   {"event": "disconnect", "reason": ...}
//   {"event": "done"}                                  after the "exit" command
// Commands, one per line on stdin: "emit NAME" (emit NAME with no argument), "exit".
"use strict";

const readline = require("readline");
const { io } = require("socket.io-client");

const url = process.argv[2];
const transports = (process.argv[3] || "websocket").split(",");
const options = JSON.parse(process.argv[4] || "{}");

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const watchdog = setTimeout(() => {
  report({ event: "error", message: "watchdog" });
  process.exit(2);
}, 60000);

const socket = io(url, {
  transports,
  reconnectionDelay: 50,
  reconnectionDelayMax: 100,
  randomizationFactor: 0,
  auth: options.auth || {},
});

socket.on("connect", () => report({ event: "connect", id: socket.id, recovered: socket.recovered }));
socket.on("disconnect", (reason) => report({ event: "disconnect", reason }));
socket.onAny((name, ...args) => report({ event: "recv", name, args }));

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const [command, name] = line.trim().split(" ");
  if (command === "emit") {
    socket.emit(name);
  } else if (command === "exit") {
    socket.close();
    clearTimeout(watchdog);
    report({ event: "done" });
    process.exit(0);
  }
});
