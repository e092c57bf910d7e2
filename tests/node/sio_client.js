// A scripted Node socket.io-client 4.8 for tests/socketio_core/aio/test_sio_interop.py.
//
// Usage: node sio_client.js URL TRANSPORTS PARSER SCENARIO ['{"token":"...","path":"/socket.io/"}']
//   URL         the server, e.g. http://127.0.0.1:8000
//   TRANSPORTS  comma-separated: polling, websocket, or polling,websocket
//   PARSER      json (the default socket.io-parser) or msgpack (socket.io-msgpack-parser)
//   SCENARIO    echo | binary | namespaces | chat-only | auth | server-disconnect |
//               client-disconnect | client-close
//   options     JSON: token (the auth token of the auth scenario), path.
//
// The server side of each scenario is in the Python test module. The script writes one JSON
// object per line on stdout (binary values as {"$bin": HEX}, wherever they are nested):
//   {"event": "connect", "nsp": ..., "id": ..., "engine": ..., "transport": ...}
//   {"event": "upgrade", "transport": "websocket"}
//   {"event": "recv", "nsp": ..., "name": ..., "args": [...], "transport": ...}
//   {"event": "ack", "nsp": ..., "name": ..., "args": [...], "transport": ...}
//   {"event": "connect_error", "nsp": ..., "message": ..., "data": ...}
//   {"event": "disconnect", "nsp": ..., "reason": ...}
//   {"event": "done"}                       then exits 0 once its connections are closed
//   {"event": "error", "message": ...}      then exits 1 (2 on the watchdog timeout)
// When the transports include both polling and websocket, the echo scenario runs a second
// round once the connection has upgraded.
"use strict";

const { Manager } = require("socket.io-client");

const url = process.argv[2];
const transports = (process.argv[3] || "polling,websocket").split(",");
const parserName = process.argv[4] || "json";
const scenario = process.argv[5] || "echo";
const options = JSON.parse(process.argv[6] || "{}");
const ACK_TIMEOUT = 5000;

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fail(message) {
  report({ event: "error", message: String(message) });
  process.exit(1);
}

// Binary values (Buffer, ArrayBuffer, typed arrays) as {"$bin": hex}, at any depth.
function plain(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("hex") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("hex") };
  if (ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex") };
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const [key, item] of Object.entries(value)) out[key] = plain(item);
    return out;
  }
  return value;
}

const managerOptions = { transports, reconnection: false, timeout: ACK_TIMEOUT };
if (parserName === "msgpack") managerOptions.parser = require("socket.io-msgpack-parser");
if (options.path) managerOptions.path = options.path;
const manager = new Manager(url, managerOptions);

function transportName() {
  return manager.engine && manager.engine.transport ? manager.engine.transport.name : null;
}

// A socket of `nsp` that reports its connect, connect_error, disconnect and received events.
function open(nsp, socketOptions = {}) {
  const socket = manager.socket(nsp, socketOptions);
  socket.on("connect", () => {
    report({ event: "connect", nsp, id: socket.id, engine: manager.engine.id, transport: transportName() });
  });
  socket.on("connect_error", (err) => {
    report({ event: "connect_error", nsp, message: err.message, data: plain(err.data === undefined ? null : err.data) });
  });
  socket.on("disconnect", (reason) => {
    report({ event: "disconnect", nsp, reason });
  });
  socket.onAny((name, ...args) => {
    // A trailing function is the server's ack callback: not part of what was received.
    const shown = args.length && typeof args[args.length - 1] === "function" ? args.slice(0, -1) : args;
    report({ event: "recv", nsp, name, args: plain(shown), transport: transportName() });
  });
  return socket;
}

function connected(socket) {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
}

function refused(socket) {
  return new Promise((resolve, reject) => {
    socket.once("connect", () => reject(new Error(`${socket.nsp} was accepted`)));
    socket.once("connect_error", resolve);
  });
}

function received(socket, name) {
  return new Promise((resolve) => socket.once(name, (...args) => resolve(args)));
}

function disconnected(socket) {
  return new Promise((resolve) => socket.once("disconnect", resolve));
}

// Emit with an ack; reports and returns every argument of the ack.
function call(socket, name, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(ACK_TIMEOUT).emit(name, ...args, (err, ...reply) => {
      if (err) return reject(new Error(`no ack for ${name}: ${err.message}`));
      report({ event: "ack", nsp: socket.nsp, name, args: plain(reply), transport: transportName() });
      resolve(reply);
    });
  });
}

// Resolved once the connection has upgraded to WebSocket (reported as it happens).
let onUpgrade;
const upgradeDone = new Promise((resolve) => {
  onUpgrade = resolve;
});
manager.on("open", () => {
  manager.engine.once("upgrade", (transport) => {
    report({ event: "upgrade", transport: transport.name });
    onUpgrade();
  });
});

function upgraded() {
  return upgradeDone;
}

// ------------------------------------------------------------------------ scenarios

async function echoRound(socket, round) {
  const echoed = received(socket, "echo");
  socket.emit("echo", "hello", round, { "h\u00e9llo": ["\u2603", "\ud83d\ude00", null, true, 1.5] });
  await echoed;
  await call(socket, "sum", 2, 3); // the server returns one value
  await call(socket, "pair", "a"); // the server returns a tuple: two ack arguments
  await call(socket, "nothing"); // the server returns None: an empty ack
  const answer = received(socket, "answer");
  socket.emit("ask", round); // the server calls us ("question") and reports our ack
  await answer;
}

const scenarios = {
  async echo() {
    const socket = open("/");
    // The server's call() to the client: acked with two arguments.
    socket.on("question", (data, ack) => ack({ answer: data.q + 1 }, "extra"));
    await connected(socket);
    await echoRound(socket, 1);
    if (transports.length > 1) {
      await upgraded();
      await echoRound(socket, 2);
    }
    const gone = disconnected(socket);
    socket.disconnect();
    await gone;
  },

  async binary() {
    const socket = open("/");
    socket.on("bin-question", (data, ack) => {
      ack({ back: Buffer.concat([data.blob, Buffer.from([0xff])]), list: [Buffer.alloc(0), data.blob] });
    });
    await connected(socket);
    const echoed = received(socket, "bin");
    const nested = {
      blob: Buffer.from([1, 2, 3]),
      list: [Buffer.from([0, 255]), "text", { deep: Buffer.from("caf\u00e9", "utf8") }],
      empty: Buffer.alloc(0),
    };
    await call(socket, "bin", nested, Buffer.from([9, 8, 7]));
    await echoed;
    const answer = received(socket, "bin-answer");
    socket.emit("bin-ask", Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    await answer;
    // A burst of text and binary events, batched into few payloads under polling; then a
    // large attachment. The server acks with what it saw, in order.
    for (let i = 0; i < 20; i++) socket.emit("seq", i, i % 2 ? Buffer.from([i]) : `#${i}`);
    const big = Buffer.alloc(100000);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    await call(socket, "seq-done", big);
    const gone = disconnected(socket);
    socket.disconnect();
    await gone;
  },

  async namespaces() {
    const root = open("/");
    const chat = open("/chat");
    const nope = open("/nope");
    await Promise.all([connected(root), connected(chat), refused(nope)]);
    await call(root, "where");
    await call(chat, "where");
    const broadcast = received(chat, "chat message");
    chat.emit("chat message", "hi all");
    await broadcast;
    // Leaving /chat leaves the manager's connection (and "/") open.
    const chatGone = disconnected(chat);
    chat.disconnect();
    await chatGone;
    await call(root, "where");
    nope.disconnect();
    const rootGone = disconnected(root);
    root.disconnect();
    await rootGone;
  },

  async "chat-only"() {
    // io("http://host/chat"): a namespace other than "/" without ever joining "/".
    const chat = open("/chat");
    await connected(chat);
    await call(chat, "where");
    const gone = disconnected(chat);
    chat.disconnect();
    await gone;
  },

  async auth() {
    const socket = open("/", { auth: { token: options.token } });
    try {
      await connected(socket);
    } catch (err) {
      socket.disconnect(); // not connected: this closes the manager's connection
      return;
    }
    await call(socket, "whoami");
    const gone = disconnected(socket);
    socket.disconnect();
    await gone;
  },

  async "server-disconnect"() {
    const socket = open("/");
    await connected(socket);
    const gone = disconnected(socket);
    socket.emit("kick me");
    await gone; // "io server disconnect": the socket does not reconnect
  },

  async "client-disconnect"() {
    const socket = open("/");
    await connected(socket);
    await call(socket, "sum", 1, 1);
    const gone = disconnected(socket);
    socket.disconnect(); // a DISCONNECT packet, then the connection closes
    await gone;
  },

  async "client-close"() {
    const socket = open("/");
    await connected(socket);
    await call(socket, "sum", 1, 1);
    const gone = disconnected(socket);
    manager.engine.close(); // no DISCONNECT packet: the Engine.IO connection just ends
    await gone;
  },
};

const run = scenarios[scenario];
if (!run) fail(`unknown scenario ${scenario}`);

setTimeout(() => {
  report({ event: "error", message: "timeout" });
  process.exit(2);
}, 15000).unref();

run().then(
  () => {
    report({ event: "done" });
    // No process.exit(): let the last packets (a POST, under polling) reach the server.
    process.exitCode = 0;
  },
  (err) => fail(err && err.stack ? err.stack : err),
);
