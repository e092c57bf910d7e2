// A Node socket.io 4.8 server on @socket.io/redis-adapter 8.x, Node socket.io-clients and
// @socket.io/redis-emitter in one process, driven over stdin, for
// tests/socketio_core/brokers/test_sio_node_wire.py (a mixed Node + Python cluster).
//
// Usage: node sio_redis_node.js REDIS_URL classic|classic-specific|sharded
//   (classic-specific: createAdapter with publishOnSpecificResponseChannel)
// Prints {"port": N} once the server listens. Then reads one JSON command per line on stdin
// ({"id": N, "cmd": ..., ...}) and answers {"id": N, "result": ...} or {"id": N, "error": ...}.
// Binary values travel as {"$bin": base64} in both directions.
//   connect {name, port, rooms}    a socket.io-client to 127.0.0.1:port; result: its sid
//   events {name}                  [[event, args], ...] received by that client
//   wait {name, event, count, ms}  once that client got `count` such events (or after ms):
//                                  every event it got
//   client_op {name, req}          the client emits "op" with an ack (Python servers' ops)
//   close {name}                   disconnect that client
//   node_op {req}                  a cluster operation on the Node server (see nodeOp)
//   emitter {req}                  the same kind of operation through redis-emitter
//   noted                          server-side events without ack the Node server got
// Exits when stdin closes, and after a 120 s watchdog.
"use strict";

const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");
const { io: connectClient } = require("socket.io-client");
const { createClient } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");

const [redisUrl, mode] = process.argv.slice(2);
setTimeout(() => process.exit(2), 120000).unref();

function toWire(value) {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = toWire(v);
    return out;
  }
  return value;
}

function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string") return Buffer.from(value.$bin, "base64");
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromWire(v);
    return out;
  }
  return value;
}

const clients = new Map(); // name -> {socket, events}
const noted = [];
let io;
let emitter;

async function main() {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  const emitterClient = pub.duplicate();
  for (const c of [pub, sub, emitterClient]) c.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect(), emitterClient.connect()]);
  const adapter =
    mode === "sharded"
      ? createShardedAdapter(pub, sub)
      : createAdapter(pub, sub, {
          requestsTimeout: 3000,
          publishOnSpecificResponseChannel: mode === "classic-specific",
        });
  const httpServer = http.createServer();
  io = new Server(httpServer, { adapter });
  emitter = new Emitter(emitterClient);
  io.on("connection", (socket) => {
    const auth = socket.handshake.auth || {};
    socket.data.name = auth.name;
    for (const room of auth.rooms || []) socket.join(room);
  });
  io.on("whoami", (...args) => {
    const cb = args.pop();
    cb({ uid: "node", args });
  });
  io.on("note", (...args) => noted.push(args));
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
}

function select(target, req) {
  let op = target;
  if (req.to !== undefined && req.to !== null) op = op.to(req.to);
  if (req.except) op = op.except(req.except);
  if (req.volatile) op = op.volatile;
  if (req.local) op = op.local;
  return op;
}

async function nodeOp(req) {
  const op = select(io, req);
  switch (req.op) {
    case "emit":
      op.emit(req.event, ...fromWire(req.args || []));
      return true;
    case "sockets_join":
      op.socketsJoin(req.rooms);
      return true;
    case "sockets_leave":
      op.socketsLeave(req.rooms);
      return true;
    case "disconnect_sockets":
      op.disconnectSockets(!!req.close);
      return true;
    case "fetch_sockets": {
      const sockets = await op.fetchSockets();
      return sockets.map((s) => ({
        id: s.id,
        rooms: [...s.rooms].sort(),
        data: s.data,
        auth: s.handshake.auth,
        handshakeKeys: Object.keys(s.handshake).sort(),
      }));
    }
    case "call": {
      try {
        return { acks: toWire(await op.timeout(req.timeout).emitWithAck(req.event, ...fromWire(req.args || []))) };
      } catch (err) {
        return { error: err.message };
      }
    }
    case "server_side_emit":
      io.serverSideEmit(req.event, ...req.args);
      return true;
    case "server_side_call": {
      try {
        return { answers: await io.serverSideEmitWithAck(req.event, ...req.args) };
      } catch (err) {
        return { error: err.message };
      }
    }
    case "server_count":
      return await io.of("/").adapter.serverCount();
    case "all_rooms":
      return [...(await io.of("/").adapter.allRooms())].sort();
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

function emitterOp(req) {
  let op = emitter;
  if (req.to !== undefined && req.to !== null) op = op.to(req.to);
  if (req.except) op = op.except(req.except);
  switch (req.op) {
    case "emit":
      op.emit(req.event, ...fromWire(req.args || []));
      return true;
    case "sockets_join":
      op.socketsJoin(req.rooms);
      return true;
    case "disconnect_sockets":
      op.disconnectSockets(!!req.close);
      return true;
    case "server_side_emit":
      emitter.serverSideEmit(req.event, ...req.args);
      return true;
    default:
      throw new Error(`unknown emitter op ${req.op}`);
  }
}

function record(entry, event, args) {
  entry.events.push([event, args]);
  entry.waiters = entry.waiters.filter((w) => !w());
}

function waitEvents(entry, event, count, ms) {
  return new Promise((resolve) => {
    const check = () => {
      if (entry.events.filter((e) => e[0] === event).length >= count) {
        clearTimeout(timer);
        resolve(entry.events);
        return true;
      }
      return false;
    };
    const timer = setTimeout(() => resolve(entry.events), ms);
    if (!check()) entry.waiters.push(check);
  });
}

async function run(cmd) {
  switch (cmd.cmd) {
    case "connect": {
      const socket = connectClient(`http://127.0.0.1:${cmd.port}`, {
        transports: ["websocket"],
        reconnection: false,
        auth: { name: cmd.name, rooms: cmd.rooms || [] },
      });
      const entry = { socket, events: [], waiters: [] };
      clients.set(cmd.name, entry);
      socket.onAny((event, ...args) => {
        const last = args[args.length - 1];
        if (typeof last === "function") {
          const ack = args.pop();
          ack({ from: socket.id, args: toWire(args) });
        }
        record(entry, event, toWire(args));
      });
      socket.on("disconnect", (reason) => record(entry, "$disconnect", [reason]));
      await new Promise((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("connect_error", reject);
      });
      return socket.id;
    }
    case "events":
      return clients.get(cmd.name).events;
    case "wait":
      return await waitEvents(clients.get(cmd.name), cmd.event, cmd.count || 1, cmd.ms ?? 10000);
    case "client_op":
      return await clients.get(cmd.name).socket.timeout(15000).emitWithAck("op", cmd.req);
    case "close":
      clients.get(cmd.name).socket.disconnect();
      return true;
    case "node_op":
      return await nodeOp(cmd.req);
    case "emitter":
      return emitterOp(cmd.req);
    case "noted":
      return noted;
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}

main().then(
  () => {
    const rl = readline.createInterface({ input: process.stdin });
    rl.on("line", (line) => {
      const cmd = JSON.parse(line);
      run(cmd).then(
        (result) => process.stdout.write(JSON.stringify({ id: cmd.id, result }) + "\n"),
        (err) => process.stdout.write(JSON.stringify({ id: cmd.id, error: String(err && err.message) }) + "\n"),
      );
    });
    rl.on("close", () => process.exit(0));
  },
  (err) => {
    process.stderr.write(`cannot start: ${err && err.stack}\n`);
    process.exit(1);
  },
);
