// A Node socket.io-client 4.8 driven over stdin, for
// tests/socketio_core/brokers/test_sio_cluster_clients.py (one process per client).
//
// Usage: node sio_cluster_client.js URL '{"name": ..., "rooms": [...], "transports": [...]}'
//   URL      one server of the test cluster (cluster_server.py), e.g. http://127.0.0.1:8000
//   options  name (sent in the auth, kept in the socket data by the server), rooms (joined
//            one by one through the server's `op` event, enter_room, once connected),
//            transports (["websocket"] by default; ["polling"] works too: a client talks to
//            one server only).
//
// Writes one JSON object per line on stdout:
//   {"event": "ready", "sid": ...}               connected, every room joined
//   {"event": "recv", "name": ..., "args": [...]} every server event (an "ask" event with an
//                                                 ack is acked with {"from": sid, "args": args})
//   {"event": "reply", "id": N, "args": [...]}   the ack of a command (see below)
//   {"event": "disconnect", "reason": ...}
//   {"event": "error", "message": ...}           then exits 1
// Reads one JSON command per line on stdin:
//   {"id": N, "emit": EVENT, "data": ...}         emit EVENT with an ack, reply with its args
//   {"close": true}                               disconnect and exit 0
// Exits by itself (code 2) after a 60 s watchdog, and when stdin closes.
"use strict";

const readline = require("readline");
const { io } = require("socket.io-client");

const url = process.argv[2];
const options = JSON.parse(process.argv[3] || "{}");
const ACK_TIMEOUT = 10000;

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fail(message) {
  report({ event: "error", message: String(message) });
  process.exit(1);
}

setTimeout(() => {
  report({ event: "error", message: "watchdog" });
  process.exit(2);
}, 60000).unref();

const socket = io(url, {
  transports: options.transports || ["websocket"],
  reconnection: false,
  timeout: ACK_TIMEOUT,
  auth: { name: options.name },
});

socket.on("connect", async () => {
  try {
    for (const room of options.rooms || []) {
      await socket.timeout(ACK_TIMEOUT).emitWithAck("op", { op: "enter_room", sid: socket.id, room });
    }
  } catch (err) {
    fail(`joining rooms: ${err.message}`);
  }
  report({ event: "ready", sid: socket.id });
});
socket.on("connect_error", (err) => fail(`connect_error: ${err.message}`));
socket.on("disconnect", (reason) => report({ event: "disconnect", reason }));
socket.onAny((name, ...args) => {
  const last = args[args.length - 1];
  if (typeof last === "function") {
    const ack = args.pop();
    if (name === "ask") ack({ from: socket.id, args });
  }
  report({ event: "recv", name, args });
});

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const command = JSON.parse(line);
  if (command.close) {
    socket.disconnect();
    process.exit(0);
  }
  try {
    const reply = await socket.timeout(30000).emitWithAck(command.emit, command.data);
    report({ event: "reply", id: command.id, args: [reply] });
  } catch (err) {
    fail(`command ${command.id}: ${err.message}`);
  }
});
lines.on("close", () => {
  socket.disconnect();
  process.exit(0);
});
