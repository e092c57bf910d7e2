// A Node socket.io-client 4.8 running the scenario of
// tests/socketio_core/brokers/test_sio_roundrobin.py against a cluster without sticky
// sessions (behind a round-robin proxy, or `serve --workers`).
//
// Usage: node sio_roundrobin_client.js URL OPTIONS_JSON
//   options: name, room, peers (the names of every client in the room, itself included),
//            rounds, transports (["polling"] or ["polling", "websocket"]), retry (keep going
//            across a reconnection: the server of the session may be killed mid-run).
//
// Each round k: emit "echo" {name, k} and check the ack; emit "ask_back" k (the server calls
// our "double" handler, whose ack it returns) and check 2k; emit "to_room" {room, from, k}.
// Then wait until "room_msg" came from every peer for every round.
// Writes one JSON object per line on stdout:
// Reads "go" on stdin before the first round (every client of the test is connected, and
// in its room, by then); writes:
//   {"event": "connected"}                     connected, waiting for "go"
//   {"event": "session", "eio": sid, "uid": u} each Socket.IO connection: its Engine.IO sid (which
//                                              names the process that opened it) and the server
//                                              id of the process serving it (the session may
//                                              have moved with its WebSocket upgrade)
//   {"event": "progress", "k": k}              a round done
//   {"event": "done", "received": {...}, "transport": name, "reconnects": n, "errors": [...]}
// Exits 2 after a 90 s watchdog.
"use strict";

const readline = require("readline");
const { io } = require("socket.io-client");

const url = process.argv[2];
const options = JSON.parse(process.argv[3]);
const ACK_TIMEOUT = 15000;

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

setTimeout(() => {
  report({ event: "error", message: "watchdog" });
  process.exit(2);
}, 90000).unref();

const errors = [];
const received = {};
let reconnects = 0;
const socket = io(url, {
  transports: options.transports,
  reconnection: Boolean(options.retry),
  reconnectionDelay: 100,
  reconnectionDelayMax: 500,
  timeout: ACK_TIMEOUT,
  auth: { name: options.name, room: options.room },
});

socket.on("connect", async () => {
  const eio = socket.io.engine.id;
  try {
    const stats = await socket.timeout(ACK_TIMEOUT).emitWithAck("stats");
    report({ event: "session", eio, uid: stats.uid });
  } catch (err) {
    // the server died right after the connection: the sid names the process that opened it
    report({ event: "session", eio, uid: eio.split(".")[0] });
  }
});
socket.io.on("reconnect", () => { reconnects += 1; });
socket.on("double", (n, ack) => ack(2 * n));
socket.on("room_msg", (msg) => {
  (received[msg.from] = received[msg.from] || []).push(msg.k);
});
socket.on("connect_error", (err) => {
  if (!options.retry) {
    report({ event: "error", message: `connect_error: ${err.message}` });
    process.exit(1);
  }
});

async function call(event, data) {
  for (;;) {
    try {
      return await socket.timeout(ACK_TIMEOUT).emitWithAck(event, data);
    } catch (err) {
      if (!options.retry) throw err;
      errors.push(`retried ${event}: ${err.message}`);
    }
  }
}

function complete() {
  // with retry, what was sent while a client was reconnecting is lost (no recovery): a client
  // that reconnected waits for its own last round, one that did not for everyone's
  if (options.retry) {
    const waited = reconnects > 0 ? [options.name] : options.peers;
    return waited.every((p) => (received[p] || []).includes(options.rounds - 1));
  }
  return options.peers.every((p) => (received[p] || []).length >= options.rounds);
}

async function run() {
  await new Promise((resolve) => socket.once("connect", resolve));
  const lines = readline.createInterface({ input: process.stdin });
  const go = new Promise((resolve) => lines.once("line", resolve));
  report({ event: "connected" });
  await go;
  for (let k = 0; k < options.rounds; k++) {
    const echoed = await call("echo", { name: options.name, k });
    if (echoed.k !== k || echoed.name !== options.name) errors.push(`echo ${k}: ${JSON.stringify(echoed)}`);
    const doubled = await call("ask_back", k);
    if (doubled !== 2 * k) errors.push(`ask_back ${k}: ${doubled}`);
    if ((await call("to_room", { room: options.room, from: options.name, k })) !== true) {
      errors.push(`to_room ${k}`);
    }
    report({ event: "progress", k });
  }
  const deadline = Date.now() + 20000;
  while (!complete() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50)); // room messages still in flight
  }
  report({
    event: "done",
    received,
    transport: socket.io.engine.transport.name,
    reconnects,
    errors,
  });
  socket.disconnect();
  process.exit(0);
}

run().catch((err) => {
  report({ event: "error", message: String(err && err.message) });
  process.exit(1);
});
