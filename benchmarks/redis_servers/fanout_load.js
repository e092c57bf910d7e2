// Fan-out load generator for benchmarks/redis_fanout.py: receivers spread over several
// Socket.IO servers that share Redis.
//
// Usage: NODE_PATH=tests/node/node_modules node benchmarks/redis_servers/fanout_load.js '<json>'
// Options: ports (the servers; receiver i connects to ports[i % ports.length], the trigger to
//   ports[0]), receivers, ticks, triggers, latencyTriggers, warmups, inflight, timeout
//   (seconds per step), pids (the servers' and the broker's: their CPU use over the measured
//   window), clkTck.
// Prints one JSON line with the results.
//
// It speaks raw Engine.IO v4 + Socket.IO v5 text frames over `ws` (no permessage-deflate),
// as benchmarks/sio_load.js does: wait for "0{...}", send "40", wait for "40{...}", answer
// pings "2" with "3". Every receiver joins the room (`421["join"]`, acked `431[true]`); one
// more session on ports[0] (not in the room) sends `fanout(n)` with an ack, and that server
// emits `42["tick",i]`, i = 0..n-1, to the room: its own receivers directly, the others'
// through Redis. Every receiver checks that its ticks arrive in order with no gap and no
// extra one. A sample is the time from sending the trigger to the last delivery to the last
// receiver (and the server's ack): `latencyTriggers` triggers of 1 tick (latency p50/p99),
// then `triggers` of `ticks` ticks (deliveries/s = deliveries / the summed spans). Exact
// counts are checked after every trigger.
"use strict";

const fs = require("fs");
const WebSocket = require("ws");

const opts = Object.assign(
  {
    ports: [],
    path: "/socket.io/",
    receivers: 1000,
    ticks: 100,
    triggers: 10,
    latencyTriggers: 50,
    warmups: 3,
    inflight: 100,
    timeout: 20,
    pids: [],
    clkTck: 100,
  },
  JSON.parse(process.argv[2] || "{}"),
);
const HOST = "127.0.0.1";
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

const result = {
  receivers: opts.receivers,
  servers: opts.ports.length,
  deliveries: 0,
  mismatches: 0,
  errors: 0,
  firstErrors: [],
  seconds: 0,
  rate: 0,
  p50: null,
  p99: null,
  spanP50: null,
  perServer: [],
  lgCpu: null,
  serverCpu: null,
  otherCpu: null,
};

function fail(err) {
  result.errors += 1;
  if (result.firstErrors.length < 5) result.firstErrors.push(String((err && err.message) || err));
}

const hardLimit = opts.timeout * (opts.triggers + opts.latencyTriggers + opts.warmups + 6) + 60;
setTimeout(() => {
  fail(`hard time limit of ${hardLimit} s reached`);
  finish(1);
}, hardLimit * 1000).unref();

function withTimeout(promise, what, seconds = opts.timeout) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), seconds * 1000);
    }),
  ]).finally(() => clearTimeout(timer));
}

function procTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch (err) {
    return null;
  }
}

function serversTicks() {
  let total = 0;
  for (const pid of opts.pids) {
    const t = procTicks(pid);
    if (t === null) return null;
    total += t;
  }
  return total;
}

function machineTicks() {
  try {
    const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0];
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  } catch (err) {
    return null;
  }
}

function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

function session(port, onPacket) {
  const ws = new WebSocket(`ws://${HOST}:${port}${opts.path}?EIO=4&transport=websocket`, {
    perMessageDeflate: false,
  });
  let state = "opening";
  let resolveConnected;
  let rejectConnected;
  const connected = new Promise((res, rej) => {
    resolveConnected = res;
    rejectConnected = rej;
  });
  connected.catch(() => {});
  ws.on("message", (data, isBinary) => {
    if (isBinary) return fail("binary frame");
    const s = data.toString();
    const type = s.charCodeAt(0);
    if (type === 52 /* "4" */ && state === "connected") {
      onPacket(s.slice(1));
    } else if (type === 50 /* "2" */) {
      ws.send("3" + s.slice(1));
    } else if (type === 48 /* "0" */ && state === "opening") {
      state = "connecting";
      ws.send("40");
    } else if (state === "connecting" && s.startsWith("40{")) {
      state = "connected";
      resolveConnected();
    } else if (type !== 54 /* "6" noop */) {
      rejectConnected(new Error(`unexpected packet ${s.slice(0, 60)} in state ${state}`));
      fail(`unexpected packet ${s.slice(0, 60)} in state ${state}`);
    }
  });
  ws.on("error", (err) => {
    rejectConnected(err);
    if (state === "connected") fail(err);
  });
  ws.on("close", () => {
    rejectConnected(new Error(`closed while ${state}`));
    if (state === "connected" && !stopping) fail("a session closed during the run");
    state = "closed";
  });
  return { connected, send: (text) => ws.send(text), abort: () => ws.terminate() };
}

let stopping = false;

async function run() {
  const n = opts.receivers;
  const ports = opts.ports;
  const expected = new Int32Array(n);
  const perServer = new Array(ports.length).fill(0);
  let delivered = 0;
  let target = 0;
  let lastAt = 0;
  let onComplete = null;

  function receiver(i) {
    let joinResolve = null;
    const s = session(ports[i % ports.length], (packet) => {
      if (packet.startsWith('2["tick",')) {
        const v = Number(packet.slice(9, -1));
        if (v !== expected[i] || packet[packet.length - 1] !== "]") {
          result.mismatches += 1;
          if (result.mismatches <= 3) fail(`receiver ${i}: got ${packet.slice(0, 40)}, expected ${expected[i]}`);
        }
        expected[i] = v + 1;
        delivered += 1;
        perServer[i % ports.length] += 1;
        if (delivered === target) {
          lastAt = nowMs();
          if (onComplete) onComplete();
        } else if (delivered > target) {
          result.mismatches += 1;
          if (result.mismatches <= 3) fail(`receiver ${i}: extra delivery ${packet.slice(0, 40)}`);
        }
      } else if (packet === "31[true]" && joinResolve) {
        joinResolve();
        joinResolve = null;
      } else {
        result.mismatches += 1;
        if (result.mismatches <= 3) fail(`receiver ${i}: unexpected ${packet.slice(0, 60)}`);
      }
    });
    s.joined = s.connected.then(
      () =>
        new Promise((res) => {
          joinResolve = res;
          s.send('421["join"]');
        }),
    );
    return s;
  }

  const sessions = [];
  let trigger = null;
  try {
    let next = 0;
    async function worker() {
      while (next < n) {
        const s = receiver(next++);
        sessions.push(s);
        await withTimeout(s.joined, "connect and join");
      }
    }
    const workers = [];
    for (let w = 0; w < Math.min(opts.inflight, n); w++) workers.push(worker());
    await withTimeout(Promise.all(workers), `${n} receivers`, opts.timeout * 3);

    let ackResolve = null;
    let triggerAck = 0;
    trigger = session(ports[0], (packet) => {
      if (ackResolve && packet === `3${triggerAck}[${ackResolve.n}]`) {
        const r = ackResolve;
        ackResolve = null;
        r.resolve();
      } else {
        result.mismatches += 1;
        fail(`trigger: unexpected ${packet.slice(0, 60)}`);
      }
    });
    await withTimeout(trigger.connected, "trigger connect");

    async function fire(ticks) {
      expected.fill(0);
      const base = delivered;
      target = base + n * ticks;
      triggerAck += 1;
      const allDelivered = new Promise((res) => {
        onComplete = res;
      });
      const acked = new Promise((res) => {
        ackResolve = { n: ticks, resolve: res };
      });
      const t0 = nowMs();
      trigger.send(`42${triggerAck}["fanout",${ticks}]`);
      await withTimeout(Promise.all([allDelivered, acked]), `fanout of ${ticks} to ${n}`);
      onComplete = null;
      if (delivered !== target) throw new Error(`delivered ${delivered - base}, expected ${n * ticks}`);
      for (let i = 0; i < n; i++) {
        if (expected[i] !== ticks) throw new Error(`receiver ${i} got ${expected[i]} of ${ticks} ticks`);
      }
      return lastAt - t0;
    }

    for (let i = 0; i < opts.warmups; i++) await fire(5);
    const latency = [];
    for (let i = 0; i < opts.latencyTriggers; i++) latency.push(await fire(1));
    latency.sort((a, b) => a - b);
    result.p50 = percentile(latency, 0.5);
    result.p99 = percentile(latency, 0.99);

    perServer.fill(0);
    const cpu0 = process.cpuUsage();
    const servers0 = serversTicks();
    const machine0 = machineTicks();
    const wall0 = nowMs();
    const spans = [];
    let busy = 0;
    for (let i = 0; i < opts.triggers; i++) {
      const ms = await fire(opts.ticks);
      spans.push(ms);
      busy += ms / 1000;
      result.deliveries += n * opts.ticks;
    }
    const wall = (nowMs() - wall0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    result.lgCpu = (cpu.user + cpu.system) / 1e6 / wall;
    const servers1 = serversTicks();
    if (servers0 !== null && servers1 !== null) result.serverCpu = (servers1 - servers0) / opts.clkTck / wall;
    const machine1 = machineTicks();
    if (machine0 !== null && machine1 !== null && result.serverCpu !== null) {
      const all = (machine1 - machine0) / opts.clkTck / wall;
      result.otherCpu = Math.max(0, all - result.serverCpu - result.lgCpu);
    }
    result.wall = wall;
    result.seconds = busy;
    result.rate = busy > 0 ? result.deliveries / busy : 0;
    spans.sort((a, b) => a - b);
    result.spanP50 = percentile(spans, 0.5);
    result.perServer = perServer;
  } catch (err) {
    fail(err);
  } finally {
    stopping = true;
    if (trigger) trigger.abort();
    sessions.forEach((s) => s.abort());
  }
}

function finish(code) {
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(code));
}

run().then(
  () => finish(result.errors || result.mismatches ? 1 : 0),
  (err) => {
    fail(err);
    finish(1);
  },
);
