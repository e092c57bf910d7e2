// A scripted Node socket.io-client 4.8 for the drop-in example tests
// (tests/socketio_core/dropin/test_sio_dropin_examples.py).
//
// Usage: node fiddle_client.js URL TRANSPORTS STEPS_JSON
//   TRANSPORTS  polling | websocket | polling,websocket (upgrade)
//   STEPS_JSON  a list of steps run in order once connected:
//                 ["expect", NAME]            wait for event NAME (its args are reported)
//                 ["emit", NAME, ...ARGS]     emit NAME with ARGS
//                 ["call", NAME, ...ARGS]     emit with an ack; the ack's args are reported
//                 ["upgrade"]                 wait until the transport is websocket
// Writes JSON lines: {"event":"connect","transport":...}, {"event":"recv","name":...,"args":[...]},
// {"event":"ack","name":...,"args":[...]}, {"event":"done","transport":...}; on an error
// {"event":"error","message":...} and exit 1 (2 on the watchdog timeout).
"use strict";

const { io } = require("socket.io-client");

const url = process.argv[2];
const transports = process.argv[3].split(",");
const steps = JSON.parse(process.argv[4] || "[]");
const report = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

setTimeout(() => {
  report({ event: "error", message: "watchdog timeout" });
  process.exit(2);
}, 15000).unref();

const socket = io(url, { transports, reconnection: false, auth: { token: "my-token" } });
const inbox = [];
let waiter = null;

socket.onAny((name, ...args) => {
  report({ event: "recv", name, args });
  inbox.push(name);
  if (waiter) waiter();
});

function expect(name) {
  return new Promise((resolve) => {
    const check = () => {
      const index = inbox.indexOf(name);
      if (index >= 0) {
        inbox.splice(0, index + 1);
        waiter = null;
        resolve();
      }
    };
    waiter = check;
    check();
  });
}

function upgraded() {
  return new Promise((resolve) => {
    if (socket.io.engine.transport.name === "websocket") return resolve();
    socket.io.engine.once("upgrade", () => resolve());
  });
}

socket.on("connect_error", (err) => {
  report({ event: "error", message: "connect_error: " + err.message });
  process.exit(1);
});

socket.on("connect", async () => {
  report({ event: "connect", transport: socket.io.engine.transport.name });
  for (const [kind, name, ...args] of steps) {
    if (kind === "expect") await expect(name);
    else if (kind === "emit") socket.emit(name, ...args);
    else if (kind === "call") {
      const reply = await socket.timeout(5000).emitWithAck(name, ...args);
      report({ event: "ack", name, args: [reply] });
    } else if (kind === "upgrade") await upgraded();
  }
  report({ event: "done", transport: socket.io.engine.transport.name });
  socket.disconnect();
  process.exit(0);
});
