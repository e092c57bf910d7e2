// Engine.IO v4 load generator for benchmarks/engineio_echo.py.
//
// Usage: NODE_PATH=tests/node/node_modules node benchmarks/eio_load.js '<json options>'
// Options: port, path ("/engine.io/"), mode ("websocket" | "polling" | "upgrade"),
//   concurrency, warmup and duration (seconds), size (payload characters), maxMessages
//   (per client), sessions and warmupSessions (upgrade mode), timeout (seconds per step),
//   serverPid and clkTck (to report the server's CPU use over the measured window).
// Prints one JSON line with the results.
//
// It speaks raw Engine.IO v4 (no engine.io-client) so that the same, cheap client drives
// every server:
// * websocket: `ws` straight to ?EIO=4&transport=websocket (no permessage-deflate offered),
//   wait for the open packet "0", then closed-loop echo: send "4<payload>", wait for that
//   exact packet to come back, repeat. Pings "2" are answered with "3".
// * polling: a keep-alive http.Agent per client (2 sockets: the parked GET and the POST).
//   Handshake GET, then a GET is always parked while messages go out by POST, one at a time.
// * upgrade: sequential sessions, as engine.io-client does it: handshake GET, a parked GET,
//   a WebSocket with the sid, "2probe" -> "3probe", wait until the parked GET returns (the
//   server ends it with a noop "6"), send "5". The time from the handshake GET to "5" is one
//   sample. Each session then echoes one message over the WebSocket to prove the upgrade.
// Every echo is checked: the payload carries the client id and a sequence number, and a
// reply that is not exactly the packet sent counts as a mismatch.
"use strict";

const fs = require("fs");
const http = require("http");
const WebSocket = require("ws");

const opts = Object.assign(
  {
    path: "/engine.io/",
    mode: "websocket",
    concurrency: 1,
    warmup: 1,
    duration: 5,
    size: 64,
    maxMessages: 1000000,
    sessions: 100,
    warmupSessions: 5,
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
  concurrency: opts.concurrency,
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
  opts.mode === "upgrade"
    ? opts.timeout * 2 + opts.duration + 30
    : opts.warmup + opts.duration + opts.timeout * 2 + 30;
setTimeout(() => {
  fail(`hard time limit of ${hardLimit} s reached`);
  finish(1);
}, hardLimit * 1000).unref();

function withTimeout(promise, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), opts.timeout * 1000);
    }),
  ]).finally(() => clearTimeout(timer));
}

function serverTicks() {
  if (!opts.serverPid) return null;
  try {
    const stat = fs.readFileSync(`/proc/${opts.serverPid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
  } catch (err) {
    return null;
  }
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

// The measured window, shared by all clients.
const clock = { measureStart: Infinity, measureEnd: Infinity, sendUntil: Infinity };
let cpuStart = null;
let ticksStart = null;
let machineStart = null;
function startWindow() {
  cpuStart = process.cpuUsage();
  ticksStart = serverTicks();
  machineStart = machineTicks();
}
function endWindow(seconds) {
  const cpu = process.cpuUsage(cpuStart);
  result.lgCpu = (cpu.user + cpu.system) / 1e6 / seconds;
  const ticks = serverTicks();
  if (ticks !== null && ticksStart !== null) {
    result.serverCpu = (ticks - ticksStart) / opts.clkTck / seconds;
  }
  // Everything else that ran meanwhile (other processes on a shared machine), in cores.
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

// ------------------------------------------------------------------ echo clients

// The closed loop shared by both transports: `send(packet)` puts a packet on the wire.
class EchoLoop {
  constructor(id, send, done) {
    this.id = id;
    this.send = send;
    this.done = done;
    this.seq = 0;
    this.expected = null;
    this.sentAt = 0;
    this.samples = [];
    this.count = 0;
    this.finished = false;
  }

  next() {
    const t = nowMs();
    if (t >= clock.sendUntil || this.seq >= opts.maxMessages) {
      this.finish();
      return;
    }
    this.seq += 1;
    this.expected = "4" + payloadOf(this.id, this.seq);
    this.sentAt = t;
    this.send(this.expected);
  }

  // A message packet ("4...") from the server.
  onMessage(packet) {
    const t = nowMs();
    if (this.expected === null || packet !== this.expected) {
      result.mismatches += 1;
      if (result.mismatches <= 3) fail(`client ${this.id}: unexpected ${packet.slice(0, 80)}`);
      this.finish();
      return;
    }
    this.expected = null;
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

function wsUrl(sid) {
  const q = sid ? `&sid=${sid}` : "";
  return `ws://${HOST}:${opts.port}${opts.path}?EIO=4&transport=websocket${q}`;
}

// One WebSocket echo client: resolves `opened` on the open packet, `closed` at the end.
function wsClient(id) {
  const ws = new WebSocket(wsUrl(null), { perMessageDeflate: false });
  let resolveOpen;
  let rejectOpen;
  let resolveDone;
  const opened = new Promise((res, rej) => {
    resolveOpen = res;
    rejectOpen = rej;
  });
  const closed = new Promise((res) => {
    resolveDone = res;
  });
  const loop = new EchoLoop(
    id,
    (packet) => ws.send(packet),
    () => ws.close(1000),
  );
  ws.on("message", (data, isBinary) => {
    const s = isBinary ? null : data.toString();
    if (s === null) {
      fail("binary frame");
      return;
    }
    switch (s[0]) {
      case "0":
        resolveOpen();
        break;
      case "2":
        ws.send("3" + s.slice(1));
        break;
      case "4":
        loop.onMessage(s);
        break;
      case "6":
        break;
      default:
        fail(`client ${id}: packet ${s.slice(0, 40)}`);
        loop.finish();
    }
  });
  ws.on("error", (err) => {
    fail(err);
    rejectOpen(err);
  });
  ws.on("close", () => {
    rejectOpen(new Error("closed before open"));
    loop.finish();
    resolveDone();
  });
  return { opened, closed, loop, start: () => loop.next(), abort: () => ws.terminate() };
}

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

function parseOpen(text) {
  if (text[0] !== "0") throw new Error(`not an open packet: ${text.slice(0, 80)}`);
  return JSON.parse(text.slice(1));
}

// One polling echo client.
function pollingClient(id) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  let sid = null;
  let stopped = false;
  const postQueue = [];
  let posting = false;
  let inflight = Promise.resolve(); // the POST on the wire (the spec allows one at a time)
  let resolveDone;
  const closed = new Promise((res) => {
    resolveDone = res;
  });

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
    // Close the session (the parked GET returns), then let the sockets go.
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

  async function pollLoop() {
    while (!stopped) {
      let text;
      try {
        text = await request(agent, "GET", sid);
      } catch (err) {
        if (!stopped) fail(err);
        break;
      }
      for (const packet of text.split(SEP)) {
        switch (packet[0]) {
          case "2":
            post("3" + packet.slice(1));
            break;
          case "4":
            loop.onMessage(packet);
            break;
          case "6":
            break;
          case "1":
            if (!stopped) fail(`client ${id}: server closed the session`);
            stopped = true;
            break;
          default:
            fail(`client ${id}: packet ${packet.slice(0, 40)}`);
        }
      }
    }
    loop.finish();
  }

  const opened = request(agent, "GET", null).then((text) => {
    sid = parseOpen(text).sid;
  });
  return {
    opened,
    closed,
    loop,
    start: () => {
      pollLoop();
      loop.next();
    },
    abort: () => {
      stopped = true;
      agent.destroy();
      resolveDone();
    },
  };
}

async function runEcho() {
  const make = opts.mode === "websocket" ? wsClient : pollingClient;
  const clients = [];
  for (let i = 0; i < opts.concurrency; i++) clients.push(make(i));
  try {
    await withTimeout(
      Promise.all(clients.map((c) => c.opened)),
      `${opts.concurrency} ${opts.mode} handshakes`,
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
    // Clients stop sending at the end of the window; allow `timeout` more for the last echo.
    await Promise.race([
      Promise.all(clients.map((c) => c.closed)),
      new Promise((res) => {
        finishTimer = setTimeout(res, (opts.warmup + opts.duration + opts.timeout) * 1000);
      }),
    ]);
  } finally {
    clearTimeout(startTimer);
    clearTimeout(endTimer);
    clearTimeout(finishTimer);
  }
  // Clients may all stop early (errors, maxMessages): the window is what actually elapsed.
  const end = Math.min(nowMs(), clock.measureEnd);
  result.seconds = Math.max(0, (end - clock.measureStart) / 1000);
  if (result.lgCpu === null && result.seconds > 0) endWindow(result.seconds);
  const samples = [];
  for (const c of clients) {
    result.messages += c.loop.count;
    for (const s of c.loop.samples) samples.push(s);
  }
  result.rate = result.seconds > 0 ? result.messages / result.seconds : 0;
  summarize(samples);
  clients.forEach((c) => c.abort());
}

// ---------------------------------------------------------------------- upgrade

function messageQueue(ws) {
  const queue = [];
  const waiters = [];
  ws.on("message", (data) => {
    const s = data.toString();
    if (s[0] === "2" && s !== "2probe") {
      ws.send("3" + s.slice(1));
      return;
    }
    if (waiters.length) waiters.shift()(s);
    else queue.push(s);
  });
  return () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)));
}

async function upgradeOnce(agent, n) {
  const t0 = nowMs();
  const open = parseOpen(await withTimeout(request(agent, "GET", null), "handshake"));
  if (!open.upgrades || !open.upgrades.includes("websocket")) {
    throw new Error(`no websocket upgrade offered: ${JSON.stringify(open)}`);
  }
  const sid = open.sid;
  const parked = request(agent, "GET", sid);
  const ws = new WebSocket(wsUrl(sid), { perMessageDeflate: false });
  const next = messageQueue(ws);
  const closed = new Promise((res) => ws.on("close", res));
  try {
    await withTimeout(
      new Promise((res, rej) => {
        ws.once("open", res);
        ws.once("error", rej);
      }),
      "websocket open",
    );
    ws.send("2probe");
    const pong = await withTimeout(next(), "3probe");
    if (pong !== "3probe") throw new Error(`expected 3probe, got ${pong.slice(0, 40)}`);
    // Pause polling: the parked GET must come back (with a noop) before "5".
    const released = await withTimeout(parked, "the parked GET to return");
    for (const packet of released.split(SEP)) {
      if (packet[0] !== "6") throw new Error(`parked GET returned ${packet.slice(0, 40)}`);
    }
    ws.send("5");
    const t1 = nowMs();
    const check = `4upgraded.${n}`;
    ws.send(check);
    const echo = await withTimeout(next(), "echo after upgrade");
    if (echo !== check) {
      result.mismatches += 1;
      throw new Error(`echo after upgrade: ${echo.slice(0, 40)}`);
    }
    return t1 - t0;
  } finally {
    parked.catch(() => {});
    ws.close(1000);
    await withTimeout(closed, "websocket close").catch(() => ws.terminate());
  }
}

async function runUpgrade() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const samples = [];
  const deadline = nowMs() + opts.duration * 1000;
  try {
    for (let i = 0; i < opts.warmupSessions; i++) await upgradeOnce(agent, -i);
    startWindow();
    const t0 = nowMs();
    for (let i = 0; i < opts.sessions && nowMs() < deadline; i++) {
      samples.push(await upgradeOnce(agent, i));
    }
    result.seconds = (nowMs() - t0) / 1000;
    endWindow(result.seconds);
  } catch (err) {
    fail(err);
  } finally {
    agent.destroy();
  }
  result.messages = samples.length;
  result.rate = result.seconds > 0 ? samples.length / result.seconds : 0;
  summarize(samples);
}

function finish(code) {
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(code));
}

(opts.mode === "upgrade" ? runUpgrade() : runEcho()).then(
  () => finish(0),
  (err) => {
    fail(err);
    finish(1);
  },
);
