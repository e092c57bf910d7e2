// Drives the chat demo (demo/) in headless Chromium with playwright-core, as two people.
//
//   node chat_browser.js URL ARTIFACT_DIR [CHROMIUM]
//
// Alice and Bob open URL in two browser contexts (two separate people, fresh profiles) and:
//   1. "message":   Alice's room message appears on Bob's page; Alice's copy gets "delivered";
//   2. "isolation": a message to #secret (Alice only) never reaches Bob, while the message
//                   Alice sends to #lobby right after it does;
//   3. "image":     a PNG made here arrives on Bob's page with the same SHA-256 and decodes;
//   plus "direct" (Bob to Alice by sid) and "others" (Bob to everyone but himself).
// Screenshots go to ARTIFACT_DIR (chat.png: Alice's page, chat-bob.png: Bob's). One JSON
// object goes to stdout: {"ok": bool, "checks": {...}, "error"?: str}. Exit status 1 on failure.
// Chromium is Debian's (/usr/bin/chromium): playwright never downloads a browser here.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const zlib = require("node:zlib");
const { chromium } = require("playwright-core");

const [url, artifacts, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
const WAIT = 10000;
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

// ------------------------------------------------------------------ a PNG, by hand

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([head, body, crc]);
}

// A 32x32 RGBA picture: a colour gradient with a diagonal stripe (every byte matters).
function makePng(size = 32) {
  const rows = [];
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 4); // filter byte 0, then RGBA pixels
    for (let x = 0; x < size; x++) {
      const stripe = Math.abs(x - y) < 3;
      row.set(stripe ? [255, 255, 255, 255] : [x * 8, y * 8, 160, 255], 1 + x * 4);
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8 bits, RGBA, deflate, no filter set, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

// ------------------------------------------------------------------- page helpers

async function openAs(browser, name) {
  const context = await browser.newContext({ viewport: { width: 1180, height: 760 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const errors = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  page.errors = errors;
  await page.goto(url);
  await page.waitForSelector('#status[data-state="connected"]');
  await page.fill("#name", name);
  await join(page, "lobby");
  return page;
}

async function join(page, room) {
  await page.fill("#room", room);
  await page.click("#join");
  await page.waitForSelector(`#my-rooms button[data-room="${room}"][aria-pressed="true"]`);
}

async function say(page, target, text) {
  await page.selectOption("#target", target);
  await page.fill("#text", text);
  await page.click("#send");
}

// Wait for the sender's copy of `text` to reach `status` ("sent", "delivered", or "alone":
// sent to a room where nobody else is).
async function ticks(page, text, status = "delivered") {
  const item = page.locator("#messages li.message.mine", { hasText: text });
  await item.locator(`.ticks[data-status="${status}"]`).waitFor();
  return item.locator(".ticks").getAttribute("aria-label");
}

function received(page, text) {
  return page.locator("#messages li.message.theirs", { hasText: text });
}

// --------------------------------------------------------------------------- main

async function main() {
  fs.mkdirSync(artifacts, { recursive: true });
  const checks = {};
  // launch() gives each run a fresh temporary profile (its own --user-data-dir).
  const browser = await chromium.launch({ executablePath, args: ARGS, headless: true });
  let alice;
  let bob;
  try {
    alice = await openAs(browser, "Alice");
    bob = await openAs(browser, "Bob");
    await alice.locator("#people li", { hasText: "Bob" }).waitFor();

    // 1. A message typed on one page appears on the other, and comes back "delivered".
    const hello = "Hello Bob, this is Alice: ça va?";
    await say(alice, "room:lobby", hello);
    const got = received(bob, hello);
    await got.waitFor();
    checks.message = {
      received: (await got.locator(".text").textContent()) === hello,
      from: await got.getAttribute("data-from"),
      room: await got.getAttribute("data-room"),
      echoed_to_sender: await received(alice, hello).count(),
      ticks: await ticks(alice, hello),
    };

    // 2. A room message does not reach a page outside the room.
    await join(alice, "secret");
    const secret = "The secret room's password is swordfish";
    await say(alice, "room:secret", secret);
    const secretTicks = await ticks(alice, secret, "alone"); // nobody else in #secret
    const after = "Back in the lobby after #secret";
    await say(alice, "room:lobby", after);
    await received(bob, after).waitFor(); // sent after the secret one, on the same connection
    checks.isolation = {
      bob_rooms: await bob.locator("#my-rooms button[data-room]").evaluateAll(
        (nodes) => nodes.map((node) => node.dataset.room)),
      secret_on_bob: await received(bob, secret).count(),
      secret_ticks: secretTicks,
      lobby_after_on_bob: await received(bob, after).count(),
    };

    // 3. An image arrives intact.
    const png = makePng();
    await alice.selectOption("#target", "room:lobby");
    await alice.click('#my-rooms button[data-room="lobby"]');
    await alice.setInputFiles("#image", { name: "pixels.png", mimeType: "image/png", buffer: png });
    const img = bob.locator('img.shared-image[data-name="pixels.png"]');
    await img.waitFor();
    await bob.waitForFunction(
      () => document.querySelector('img.shared-image[data-name="pixels.png"]').complete,
    );
    checks.image = {
      sent_sha256: crypto.createHash("sha256").update(png).digest("hex"),
      received_sha256: await img.getAttribute("data-sha256"),
      sent_bytes: png.length,
      received_bytes: Number(await img.getAttribute("data-bytes")),
      natural_size: await img.evaluate((node) => [node.naturalWidth, node.naturalHeight]),
      ticks: await ticks(alice, "pixels.png"),
    };

    // Extras: a direct message by sid, and "everyone but me" (skip_sid).
    const direct = "Psst Alice, direct message";
    await bob.click('#people button[aria-label="Message Alice directly"]');
    const aliceSid = await bob.locator("#people li", { hasText: "Alice" }).getAttribute("data-sid");
    if ((await bob.inputValue("#target")) !== `direct:${aliceSid}`) throw new Error("no DM target");
    await bob.fill("#text", direct);
    await bob.click("#send");
    const dm = received(alice, direct);
    await dm.waitFor();
    const others = "Bob to everyone but himself";
    await say(bob, "others", others);
    await received(alice, others).waitFor();
    checks.direct = {
      kind: await dm.getAttribute("data-kind"),
      ticks: await ticks(bob, direct),
    };
    checks.others = {
      on_alice: await received(alice, others).count(),
      on_bob_as_received: await received(bob, others).count(),
      ticks: await ticks(bob, others),
    };
    checks.page_errors = [...alice.errors, ...bob.errors];

    await alice.screenshot({ path: path.join(artifacts, "chat.png") });
    await bob.screenshot({ path: path.join(artifacts, "chat-bob.png") });
    console.log(JSON.stringify({ ok: true, browser: browser.version(), checks }));
  } catch (err) {
    for (const [who, page] of [["alice", alice], ["bob", bob]]) {
      if (page) await page.screenshot({ path: path.join(artifacts, `chat-failed-${who}.png`) });
    }
    console.log(JSON.stringify({ ok: false, error: String(err && err.stack || err), checks }));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

main();
