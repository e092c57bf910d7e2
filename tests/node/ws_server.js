// An echo server made with `ws`, for tests/websocket/test_interop.py.
//
// Usage: node ws_server.js '{"deflate": true}'
// Listens on 127.0.0.1, port 0, and prints one JSON line per event on stdout:
//   listening (port), connection (negotiated extensions), message (type, and the text, base64,
//   or size + sha256 over 1000 bytes), ping, close (code, reason).
// Echoes every message with its type. A text message "close-me <code> <reason>" makes the
// server close the connection with that code and reason instead. Serves one connection, then
// exits 0 once it is closed; exits 2 after a 10 s timeout.
'use strict';

const crypto = require('crypto');
const { WebSocketServer } = require('ws');

const config = JSON.parse(process.argv[2] || '{}');
const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const guard = setTimeout(() => {
  print({ event: 'timeout' });
  process.exit(2);
}, 10000);

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: config.deflate ? { threshold: 0 } : false,
});

wss.on('listening', () => print({ event: 'listening', port: wss.address().port }));

wss.on('connection', (ws) => {
  print({ event: 'connection', extensions: ws.extensions });
  ws.on('message', (data, isBinary) => {
    const type = isBinary ? 'binary' : 'text';
    const msg = { event: 'message', type };
    if (data.length > 1000) {
      msg.size = data.length;
      msg.sha256 = crypto.createHash('sha256').update(data).digest('hex');
    } else if (isBinary) msg.b64 = data.toString('base64');
    else msg.data = data.toString('utf8');
    print(msg);
    if (!isBinary && data.toString('utf8').startsWith('close-me ')) {
      const [, code, ...reason] = data.toString('utf8').split(' ');
      ws.close(Number(code), reason.join(' '));
      return;
    }
    ws.send(data, { binary: isBinary });
  });
  ws.on('ping', (data) => print({ event: 'ping', data: data.toString('utf8') }));
  ws.on('close', (code, reason) => {
    print({ event: 'close', code, reason: reason.toString('utf8') });
    clearTimeout(guard);
    wss.close(() => process.exit(0));
  });
});
