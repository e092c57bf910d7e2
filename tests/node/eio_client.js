// A Node engine.io-client 6.6 test client for tests/engineio_core/aio/test_eio_asgi.py.
//
// Usage: node eio_client.js URL TRANSPORTS ['{"waitUpgrade":true,"path":"/engine.io/",...}']
//   URL         the server, e.g. http://127.0.0.1:8000
//   TRANSPORTS  comma-separated: polling, websocket, or polling,websocket
//   options     JSON: waitUpgrade (send a second round of messages once upgraded),
//               serverClose (at the end, send "__close__" and wait for the server to close
//               instead of closing), any engine.io-client option (path, upgrade...).
//
// Once open it sends one round of messages (text, non-ASCII text, binary), waits for each
// to come back (the server is expected to echo), optionally waits for the upgrade and sends
// a second round, then closes. It writes one JSON object per line on stdout:
//   {"event": "open", "sid": ..., "transport": ...}
//   {"event": "upgrade", "transport": ...}
//   {"event": "message", "type": "text", "data": ..., "transport": ...}
//   {"event": "message", "type": "binary", "data": BASE64, "transport": ...}
//   {"event": "close", "reason": ...}       then exits 0 once its requests are done
//   {"event": "error", "message": ...}      then exits 1
"use strict";

const { Socket } = require("engine.io-client");

const url = process.argv[2];
const transports = (process.argv[3] || "polling,websocket").split(",");
const options = JSON.parse(process.argv[4] || "{}");
const waitUpgrade = Boolean(options.waitUpgrade);
const serverClose = Boolean(options.serverClose);
delete options.waitUpgrade;
delete options.serverClose;

const ROUND = ["hello", "h\u00e9llo \u2603 \ud83d\ude00", Buffer.from([0, 1, 2, 254, 255])];

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const socket = new Socket(url, { transports, ...options });
const rounds = waitUpgrade ? 2 : 1;
let sentRounds = 0;
let pending = 0;
let upgraded = false;

function sendRound() {
  sentRounds += 1;
  pending += ROUND.length;
  for (const message of ROUND) socket.send(message);
}

function next() {
  if (pending > 0) return;
  if (sentRounds < rounds) {
    if (waitUpgrade && !upgraded) return; // the upgrade handler calls next()
    sendRound();
    return;
  }
  if (serverClose) socket.send("__close__");
  else socket.close();
}

socket.on("open", () => {
  report({ event: "open", sid: socket.id, transport: socket.transport.name });
  sendRound();
});

socket.on("upgrade", (transport) => {
  upgraded = true;
  report({ event: "upgrade", transport: transport.name });
  next();
});

socket.on("message", (data) => {
  const transport = socket.transport.name;
  if (typeof data === "string") {
    report({ event: "message", type: "text", data, transport });
  } else {
    report({ event: "message", type: "binary", data: Buffer.from(data).toString("base64"), transport });
  }
  pending -= 1;
  next();
});

socket.on("error", (err) => {
  report({ event: "error", message: String(err && err.message ? err.message : err) });
  process.exit(1);
});

socket.on("close", (reason) => {
  report({ event: "close", reason });
  // No process.exit(): let the close packet (a POST, under polling) reach the server first.
  process.exitCode = 0;
});

setTimeout(() => {
  report({ event: "error", message: "timeout" });
  process.exit(2);
}, 15000).unref();
