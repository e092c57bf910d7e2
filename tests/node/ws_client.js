// A scripted `ws` client for tests/websocket/test_interop.py.
//
// Usage: node ws_client.js '<json config>'
//   {"url": "ws://127.0.0.1:PORT/", "deflate": true, "steps": [...], "close": {"code": 4000, "reason": "bye"}}
// Steps run one at a time; each waits for its answer before the next:
//   {"text": "..."}                       send a text message, wait for the echo
//   {"binary": "<base64>"}                send a binary message, wait for the echo
//   {"large": N, "binary": true|false}     send N bytes (byte i = i % 251, or letters for text)
//   {"fragments": ["a", "b"], "binary": false}  one message sent as several frames (fin option)
//   {"ping": "payload"}                   send a ping, wait for the pong
// Prints one JSON line per event on stdout: open (with the negotiated extensions), each message
// received (text in full, binary as base64, anything over 1000 bytes as size + sha256), each
// pong, and close (code, reason). Exits 0 after the close, 1 on an error, 2 on a 10 s timeout.
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');

const config = JSON.parse(process.argv[2]);
const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const guard = setTimeout(() => {
  print({ event: 'timeout' });
  process.exit(2);
}, 10000);

function largePayload(size, binary) {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = binary ? i % 251 : 97 + (i % 26);
  return buf;
}

function describe(data, isBinary) {
  const buf = Buffer.isBuffer(data) ? data : Buffer.concat(data);
  const type = isBinary ? 'binary' : 'text';
  if (buf.length > 1000) {
    const sha256 = crypto.createHash('sha256').update(buf).digest('hex');
    return { event: 'message', type, size: buf.length, sha256 };
  }
  if (isBinary) return { event: 'message', type, b64: buf.toString('base64') };
  return { event: 'message', type, data: buf.toString('utf8') };
}

const ws = new WebSocket(config.url, {
  // threshold 0: compress every message, so that short ones exercise the extension too.
  perMessageDeflate: config.deflate ? { threshold: 0 } : false,
});

let waiting = null;
ws.on('message', (data, isBinary) => {
  print(describe(data, isBinary));
  if (waiting) waiting();
});
ws.on('pong', (data) => {
  print({ event: 'pong', data: data.toString('utf8') });
  if (waiting) waiting();
});
ws.on('error', (err) => {
  print({ event: 'error', message: String(err && err.message) });
  process.exit(1);
});
ws.on('close', (code, reason) => {
  print({ event: 'close', code, reason: reason.toString('utf8') });
  clearTimeout(guard);
  process.exit(0);
});

function answer() {
  return new Promise((resolve) => {
    waiting = () => {
      waiting = null;
      resolve();
    };
  });
}

async function run(step) {
  const reply = answer();
  if ('text' in step) ws.send(step.text);
  else if ('binary' in step && typeof step.binary === 'string') {
    ws.send(Buffer.from(step.binary, 'base64'), { binary: true });
  } else if ('large' in step) {
    const binary = Boolean(step.binary);
    ws.send(largePayload(step.large, binary), { binary });
  } else if ('fragments' in step) {
    const binary = Boolean(step.binary);
    step.fragments.forEach((part, i) => {
      ws.send(Buffer.from(part, 'utf8'), { binary, fin: i === step.fragments.length - 1 });
    });
  } else if ('ping' in step) ws.ping(step.ping);
  else throw new Error('unknown step ' + JSON.stringify(step));
  await reply;
}

ws.on('open', async () => {
  print({ event: 'open', extensions: ws.extensions });
  for (const step of config.steps) await run(step);
  const close = config.close || { code: 1000, reason: '' };
  ws.close(close.code, close.reason);
});
