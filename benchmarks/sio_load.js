// Socket.IO v5 load generator for benchmarks/socketio_bench.py.
//
// Usage: NODE_PATH=tests/node/node_modules node benchmarks/sio_load.js '<json options>'
// Options: port, path ("/socket.io/"), mode ("websocket" | "polling" | "fanout" | "connect" |
//   "idle"), concurrency, warmup and duration (seconds), size (payload characters),
//   receivers, ticks, triggers, latencyTriggers (fanout), sessions, inflight (connect, idle,
//   and the fanout set-up), settle (idle, seconds), timeout (seconds per step), serverPid and
//   clkTck (the server's CPU use over the measured window, and its VmRSS); serverPids instead
//   of serverPid for a server of several processes (CPU and VmRSS summed over them, and the
//   CPU of each in serverCpuByPid).
// Prints one JSON line with the results.
//
// It speaks raw Engine.IO v4 + Socket.IO v5 text frames (no socket.io-client), so the same,
// cheap client drives every server. A session: `ws` to ?EIO=4&transport=websocket (no
// permessage-deflate offered), wait for the Engine.IO open packet "0{...}", send the
// Socket.IO CONNECT "40", wait for "40{"sid":...}". Engine.IO pings "2" are answered "3".
// * websocket: C sessions, each a closed loop of events with an ack: send
//   `42<id>["echo","<payload>"]`, wait for the ack `43<id>["<payload>"]`, repeat. Each
//   payload carries the client id and a sequence number; a reply that is not the ack of the
//   event just sent (same id, same payload) is a mismatch.
// * polling: the same loop over HTTP long-polling: a keep-alive agent per client, one GET
//   always parked, each event in its own POST (one POST at a time).
// * fanout: `receivers` sessions join the room (event "join", acked), then one more session
//   (not in the room) sends `fanout(n)` with an ack; the server emits `42["tick",i]` for
//   i = 0..n-1 to the room. Every receiver checks that the ticks arrive in order, with no
//   gap. One sample is the time from sending the trigger to the last delivery to the last
//   receiver: `latencyTriggers` triggers of 1 tick (latency), then `triggers` of `ticks`
//   ticks (throughput: deliveries / the summed trigger-to-last-delivery times). Deliveries
//   must add up exactly, and the server must ack each trigger with its n.
// * connect: `sessions` sessions opened as fast as possible with at most `inflight` at a
//   time, each counted when its CONNECT is acked; all stay open until the end. Rate =
//   sessions / elapsed; p50/p99 of the time from the socket open to the CONNECT ack.
// * idle: reads the server's VmRSS, opens `sessions` sessions (`inflight` at a time),
//   waits `settle` seconds, reads VmRSS again; reports (after - before) / sessions.
"use strict";

const fs = require("fs");
const http = require("http");
const WebSocket = require("ws");

const opts = Object.assign(
  {
    path: "/socket.io/",
    mode: "websocket",
    concurrency: 1,
    warmup: 1,
    duration: 3,
    size: 64,
    receivers: 1000,
    ticks: 100,
    triggers: 10,
    latencyTriggers: 20,
    sessions: 1000,
    inflight: 100,
    settle: 2,
    timeout: 10,
    serverPid: 0,
    clkTck: 100,
  },
  JSON.parse(process.argv[2] || "{}"),
);
const HOST = "127.0.0.1";
const SEP = "\x1e";
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

const result = {
  mode: opts.mode,
  concurrency:
    opts.mode === "fanout"
      ? opts.receivers
      : opts.mode === "connect" || opts.mode === "idle"
        ? opts.sessions
        : opts.concurrency,
  messages: 0,
  mismatches: 0,
  errors: 0,
  firstErrors: [],
  seconds: 0,
  rate: 0,
  p50: null,
  p99: null,
  lgCpu: null,
  serverCpu: null,
  otherCpu: null,
};

function fail(err) {
  result.errors += 1;
  if (result.firstErrors.length < 5) result.firstErrors.push(String((err && err.message) || err));
}

// Hard bound on the whole run, whatever happens.
const hardLimit =
  opts.warmup + opts.duration + opts.settle + opts.timeout * (opts.triggers + opts.latencyTriggers + 6) + 60;
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

// The server's processes: serverPids (a multi-process server: its CPU is summed) or serverPid.
const serverPids = opts.serverPids || (opts.serverPid ? [opts.serverPid] : []);

function pidTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
  } catch (err) {
    return null;
  }
}

// CPU ticks of each server process (null when one cannot be read), and their sum.
let ticksByPidStart = null;
function serverTicksByPid() {
  return serverPids.map(pidTicks);
}
function serverTicks() {
  if (serverPids.length === 0) return null;
  const all = serverTicksByPid();
  return all.includes(null) ? null : all.reduce((a, b) => a + b, 0);
}

function serverRssKb() {
  let total = 0;
  for (const pid of serverPids) {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    if (!match) throw new Error("no VmRSS");
    total += Number(match[1]);
  }
  return total;
}

// Busy time of the whole machine in clock ticks (all CPUs), from /proc/stat.
function machineTicks() {
  try {
    const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0];
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; // user nice system irq softirq steal
  } catch (err) {
    return null;
  }
}

// The measured window.
const clock = { measureStart: Infinity, measureEnd: Infinity, sendUntil: Infinity };
let cpuStart = null;
let ticksStart = null;
let machineStart = null;
let windowStart = 0;
let busySeconds = 0; // fanout: only the trigger-to-last-delivery spans count
function startWindow() {
  cpuStart = process.cpuUsage();
  ticksByPidStart = serverTicksByPid();
  ticksStart = serverTicks();
  machineStart = machineTicks();
  windowStart = nowMs();
}
function endWindow(seconds) {
  const cpu = process.cpuUsage(cpuStart);
  result.lgCpu = (cpu.user + cpu.system) / 1e6 / seconds;
  const ticks = serverTicks();
  if (ticks !== null && ticksStart !== null) {
    result.serverCpu = (ticks - ticksStart) / opts.clkTck / seconds;
  }
  if (serverPids.length > 1 && ticksByPidStart !== null) {
    const end = serverTicksByPid();
    result.serverCpuByPid = {};
    serverPids.forEach((pid, i) => {
      if (end[i] !== null && ticksByPidStart[i] !== null) {
        result.serverCpuByPid[pid] = (end[i] - ticksByPidStart[i]) / opts.clkTck / seconds;
      }
    });
  }
  const machine = machineTicks();
  if (machine !== null && machineStart !== null && result.serverCpu !== null) {
    const busy = (machine - machineStart) / opts.clkTck / seconds;
    result.otherCpu = Math.max(0, busy - result.serverCpu - result.lgCpu);
  }
}

function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

function summarize(samples) {
  const all = Float64Array.from(samples);
  all.sort();
  result.p50 = percentile(all, 0.5);
  result.p99 = percentile(all, 0.99);
}

function payloadOf(id, seq) {
  const head = `${id}.${seq}.`;
  return head.length >= opts.size ? head : head + "x".repeat(opts.size - head.length);
}

// Whether `packet` (a Socket.IO packet, the Engine.IO "4" stripped) is the ack
// `3<ackId>["<payload>"]`: the exact text, or failing that the same JSON.
function isAck(packet, ackId, payload) {
  const head = `3${ackId}[`;
  if (!packet.startsWith(head)) return false;
  if (packet.length === head.length + payload.length + 3 && packet.endsWith(`"${payload}"]`)) {
    return true;
  }
  try {
    const args = JSON.parse(packet.slice(head.length - 1));
    return args.length === 1 && args[0] === payload;
  } catch (err) {
    return false;
  }
}

// ------------------------------------------------------------ websocket sessions

// A Socket.IO session over a WebSocket. `onPacket(text)` gets every Socket.IO packet after
// the CONNECT ack (the "4" prefix stripped). `connected` resolves with the time from the
// socket open to the CONNECT ack.
function wsSession(onPacket) {
  const ws = new WebSocket(
    `ws://${HOST}:${opts.port}${opts.path}?EIO=4&transport=websocket`,
    { perMessageDeflate: false },
  );
  let resolveConnected;
  let rejectConnected;
  let state = "opening";
  let openedAt = 0;
  const connected = new Promise((res, rej) => {
    resolveConnected = res;
    rejectConnected = rej;
  });
  connected.catch(() => {});
  const closed = new Promise((res) => ws.on("close", res));
  ws.on("open", () => {
    openedAt = nowMs();
  });
  ws.on("message", (data, isBinary) => {
    if (isBinary) {
      fail("binary frame");
      return;
    }
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
      resolveConnected(nowMs() - openedAt);
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
    state = "closed";
  });
  return {
    ws,
    connected,
    closed,
    send: (text) => ws.send(text),
    isOpen: () => state === "connected",
    close: () => ws.close(1000),
    abort: () => ws.terminate(),
  };
}

// Open `n` sessions, at most `inflight` at a time; `make(i)` returns a session.
async function openMany(n, make, samples) {
  const sessions = [];
  let next = 0;
  async function worker() {
    while (next < n) {
      const s = make(next++);
      sessions.push(s);
      const ms = await withTimeout(s.connected, "socket.io connect");
      if (samples) samples.push(ms);
    }
  }
  const workers = [];
  for (let i = 0; i < Math.min(opts.inflight, n); i++) workers.push(worker());
  try {
    await Promise.all(workers);
  } catch (err) {
    sessions.forEach((s) => s.abort());
    throw err;
  }
  return sessions;
}

async function closeAll(sessions) {
  sessions.forEach((s) => s.close());
  await withTimeout(Promise.all(sessions.map((s) => s.closed)), "closing sessions").catch(() =>
    sessions.forEach((s) => s.abort()),
  );
}

// ------------------------------------------------------------------ echo loop

// The closed loop shared by both transports: `send(text)` puts a Socket.IO packet on the wire.
class EchoLoop {
  constructor(id, send, done) {
    this.id = id;
    this.send = send;
    this.done = done;
    this.seq = 0;
    this.ackId = 0;
    this.payload = null;
    this.sentAt = 0;
    this.samples = [];
    this.count = 0;
    this.finished = false;
  }

  next() {
    const t = nowMs();
    if (t >= clock.sendUntil) {
      this.finish();
      return;
    }
    this.seq += 1;
    this.ackId = this.seq;
    this.payload = payloadOf(this.id, this.seq);
    this.sentAt = t;
    this.send(`42${this.ackId}["echo","${this.payload}"]`);
  }

  // A Socket.IO packet from the server, without its Engine.IO "4".
  onPacket(packet) {
    const t = nowMs();
    if (this.payload === null || !isAck(packet, this.ackId, this.payload)) {
      result.mismatches += 1;
      if (result.mismatches <= 3) fail(`client ${this.id}: unexpected ${packet.slice(0, 80)}`);
      this.finish();
      return;
    }
    this.payload = null;
    if (this.sentAt >= clock.measureStart && t <= clock.measureEnd) {
      this.count += 1;
      this.samples.push(t - this.sentAt);
    }
    this.next();
  }

  finish() {
    if (!this.finished) {
      this.finished = true;
      this.done();
    }
  }
}

function wsEchoClient(id) {
  let loop = null;
  let resolveDone;
  const done = new Promise((res) => {
    resolveDone = res;
  });
  const session = wsSession((packet) => loop.onPacket(packet));
  loop = new EchoLoop(id, session.send, resolveDone);
  session.closed.then(() => loop.finish());
  return {
    opened: session.connected,
    done,
    loop,
    start: () => loop.next(),
    abort: () => session.abort(),
  };
}

// ------------------------------------------------------------------- polling

function request(agent, method, sid, body) {
  const q = sid ? `&sid=${sid}` : "";
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: HOST,
        port: opts.port,
        method,
        path: `${opts.path}?EIO=4&transport=polling${q}`,
        agent,
        headers: body === undefined ? {} : { "Content-Type": "text/plain;charset=UTF-8" },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) reject(new Error(`${method} ${res.statusCode}: ${text}`));
          else resolve(text);
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function pollingEchoClient(id) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  let sid = null;
  let stopped = false;
  const postQueue = [];
  let posting = false;
  let inflight = Promise.resolve();
  let resolveDone;
  let resolveConnected;
  let rejectConnected;
  const done = new Promise((res) => {
    resolveDone = res;
  });
  const connected = new Promise((res, rej) => {
    resolveConnected = res;
    rejectConnected = rej;
  });
  connected.catch(() => {});

  function post(packet) {
    postQueue.push(packet);
    if (!posting) flush();
  }
  function flush() {
    posting = true;
    const body = postQueue.splice(0).join(SEP);
    inflight = request(agent, "POST", sid, body).then(
      (text) => {
        if (text.toLowerCase() !== "ok") fail(`POST answered ${text.slice(0, 40)}`);
        posting = false;
        if (postQueue.length) flush();
      },
      (err) => {
        posting = false;
        fail(err);
        stop();
      },
    );
  }

  const loop = new EchoLoop(id, post, () => stop());

  function stop() {
    if (stopped) return;
    stopped = true;
    const bye = sid
      ? inflight.then(() => request(agent, "POST", sid, "1")).catch(() => {})
      : Promise.resolve();
    withTimeout(bye, "close POST")
      .catch(() => {})
      .finally(() => {
        agent.destroy();
        resolveDone();
      });
  }

  let isConnected = false;
  async function pollLoop() {
    while (!stopped) {
      let text;
      try {
        text = await request(agent, "GET", sid);
      } catch (err) {
        if (!stopped) fail(err);
        rejectConnected(err);
        break;
      }
      for (const packet of text.split(SEP)) {
        const type = packet[0];
        if (type === "4") {
          if (!isConnected && packet.startsWith("40{")) {
            isConnected = true;
            resolveConnected();
          } else if (isConnected) {
            loop.onPacket(packet.slice(1));
          } else {
            fail(`client ${id}: packet ${packet.slice(0, 40)} before the CONNECT ack`);
          }
        } else if (type === "2") {
          post("3" + packet.slice(1));
        } else if (type === "1") {
          if (!stopped) fail(`client ${id}: server closed the session`);
          stopped = true;
        } else if (type !== "6") {
          fail(`client ${id}: packet ${packet.slice(0, 40)}`);
        }
      }
    }
    loop.finish();
  }

  request(agent, "GET", null).then(
    (text) => {
      if (text[0] !== "0") throw new Error(`not an open packet: ${text.slice(0, 80)}`);
      sid = JSON.parse(text.slice(1)).sid;
      post("40");
      pollLoop();
    },
    (err) => rejectConnected(err),
  ).catch((err) => rejectConnected(err));
  return {
    opened: connected,
    done,
    loop,
    start: () => loop.next(),
    abort: () => {
      stopped = true;
      agent.destroy();
      resolveDone();
    },
  };
}

async function runEcho() {
  const make = opts.mode === "websocket" ? wsEchoClient : pollingEchoClient;
  const clients = [];
  for (let i = 0; i < opts.concurrency; i++) clients.push(make(i));
  try {
    await withTimeout(
      Promise.all(clients.map((c) => c.opened)),
      `${opts.concurrency} ${opts.mode} connects`,
    );
  } catch (err) {
    fail(err);
    clients.forEach((c) => c.abort());
    return;
  }
  const t0 = nowMs();
  clock.measureStart = t0 + opts.warmup * 1000;
  clock.measureEnd = clock.measureStart + opts.duration * 1000;
  clock.sendUntil = clock.measureEnd;
  const startTimer = setTimeout(startWindow, opts.warmup * 1000);
  const endTimer = setTimeout(() => endWindow(opts.duration), (opts.warmup + opts.duration) * 1000);
  clients.forEach((c) => c.start());
  let finishTimer;
  try {
    await Promise.race([
      Promise.all(clients.map((c) => c.done)),
      new Promise((res) => {
        finishTimer = setTimeout(res, (opts.warmup + opts.duration + opts.timeout) * 1000);
      }),
    ]);
  } finally {
    clearTimeout(startTimer);
    clearTimeout(endTimer);
    clearTimeout(finishTimer);
  }
  const end = Math.min(nowMs(), clock.measureEnd);
  result.seconds = Math.max(0, (end - clock.measureStart) / 1000);
  if (result.lgCpu === null && result.seconds > 0) endWindow(result.seconds);
  const samples = [];
  for (const c of clients) {
    if (!c.loop.finished) fail(`client ${c.loop.id}: no ack within ${opts.timeout} s`);
    result.messages += c.loop.count;
    for (const s of c.loop.samples) samples.push(s);
  }
  result.rate = result.seconds > 0 ? result.messages / result.seconds : 0;
  summarize(samples);
  clients.forEach((c) => c.abort());
}

// -------------------------------------------------------------------- fanout

async function runFanout() {
  const n = opts.receivers;
  const expected = new Int32Array(n); // next tick index per receiver
  let delivered = 0;
  let target = 0; // deliveries that complete the current trigger
  let lastAt = 0;
  let onComplete = null;
  function makeReceiver(i) {
    let joinResolve;
    const s = wsSession((packet) => {
      if (packet.startsWith('2["tick",')) {
        const v = Number(packet.slice(9, -1));
        if (v !== expected[i] || packet[packet.length - 1] !== "]") {
          result.mismatches += 1;
          if (result.mismatches <= 3) fail(`receiver ${i}: got ${packet.slice(0, 40)}, expected tick ${expected[i]}`);
        }
        expected[i] = v + 1;
        delivered += 1;
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
    // Join the room once connected; `joined` resolves on the ack.
    s.joined = s.connected.then(
      () =>
        new Promise((res) => {
          joinResolve = res;
          s.send('421["join"]');
        }),
    );
    s.connected = s.joined.then(() => 0);
    return s;
  }
  let receivers = [];
  let trigger = null;
  try {
    receivers = await withTimeout(openMany(n, makeReceiver), `${n} receivers`, opts.timeout * 3);
    let ackResolve = null;
    let triggerAck = 0;
    trigger = wsSession((packet) => {
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
      // Each receiver restarts at tick 0: reset the expectations.
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
      return lastAt - t0;
    }

    // Warm-up, then latency of one emit, then throughput.
    for (let i = 0; i < 3; i++) await fire(5);
    const latency = [];
    for (let i = 0; i < opts.latencyTriggers; i++) latency.push(await fire(1));
    summarize(latency);
    startWindow();
    let deliveries = 0;
    const spans = [];
    for (let i = 0; i < opts.triggers; i++) {
      const ms = await fire(opts.ticks);
      spans.push(ms);
      busySeconds += ms / 1000;
      deliveries += n * opts.ticks;
    }
    const wall = (nowMs() - windowStart) / 1000;
    endWindow(wall);
    result.wall = wall;
    result.seconds = busySeconds;
    result.messages = deliveries;
    result.rate = busySeconds > 0 ? deliveries / busySeconds : 0;
    spans.sort((a, b) => a - b);
    result.spanP50 = percentile(spans, 0.5);
    result.ticks = opts.ticks;
  } catch (err) {
    fail(err);
  } finally {
    if (trigger) trigger.abort();
    receivers.forEach((s) => s.abort());
  }
}

// ------------------------------------------------------------------- connect

async function runConnect() {
  const samples = [];
  let sessions = [];
  try {
    // Warm-up: a few sessions, closed again.
    await closeAll(await openMany(Math.min(20, opts.sessions), () => wsSession(() => {})));
    startWindow();
    const t0 = nowMs();
    sessions = await withTimeout(
      openMany(opts.sessions, () => wsSession((p) => fail(`unexpected ${p.slice(0, 40)}`)), samples),
      `${opts.sessions} connects`,
      opts.timeout * 3,
    );
    result.seconds = (nowMs() - t0) / 1000;
    endWindow(result.seconds);
    result.messages = samples.length;
    result.rate = result.seconds > 0 ? samples.length / result.seconds : 0;
    summarize(samples);
  } catch (err) {
    fail(err);
  } finally {
    sessions.forEach((s) => s.abort());
  }
}

// ---------------------------------------------------------------------- idle

async function runIdle() {
  let sessions = [];
  let warm = [];
  try {
    // Warm the server's code paths with a few sessions that stay open, then measure.
    warm = await openMany(20, () => wsSession(() => {}));
    await new Promise((res) => setTimeout(res, 500));
    const before = serverRssKb();
    startWindow();
    const t0 = nowMs();
    sessions = await withTimeout(
      openMany(opts.sessions, () => wsSession((p) => fail(`unexpected ${p.slice(0, 40)}`))),
      `${opts.sessions} idle sessions`,
      opts.timeout * 6,
    );
    result.seconds = (nowMs() - t0) / 1000;
    endWindow(result.seconds);
    await new Promise((res) => setTimeout(res, opts.settle * 1000));
    const open = sessions.filter((s) => s.isOpen()).length;
    if (open !== sessions.length) fail(`${sessions.length - open} sessions closed while idle`);
    const after = serverRssKb();
    result.messages = open;
    result.rate = open > 0 ? ((after - before) * 1024) / open : 0; // bytes per connection
    result.rssBeforeKb = before;
    result.rssAfterKb = after;
  } catch (err) {
    fail(err);
  } finally {
    sessions.forEach((s) => s.abort());
    warm.forEach((s) => s.abort());
  }
}

function finish(code) {
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(code));
}

const runners = {
  websocket: runEcho,
  polling: runEcho,
  fanout: runFanout,
  connect: runConnect,
  idle: runIdle,
};
runners[opts.mode]().then(
  () => finish(0),
  (err) => {
    fail(err);
    finish(1);
  },
);
