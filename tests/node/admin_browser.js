// Drives the official Socket.IO Admin UI (npm @socket.io/admin-ui, served by our server at
// /admin/) in headless Chromium with playwright-core.
//
//   node admin_browser.js URL USERNAME PASSWORD KEEP_SID DROP_SID ROOM ARTIFACT_DIR [CHROMIUM]
//
// URL is the server's root (http://127.0.0.1:PORT/). The script:
//   1. "login":   opens URL/admin/, tries a wrong password (the UI must show its error), then
//                 logs in with PASSWORD;
//   2. "sockets": the Sockets view lists KEEP_SID and DROP_SID;
//   3. "rooms":   the Rooms view lists ROOM;
//   4. "join":    on KEEP_SID's page, makes it join the room "vip" (the UI sends "join");
//   5. "drop":    on the Sockets view, disconnects DROP_SID (the UI sends "_disconnect") and
//                 waits for its row to go.
// Screenshots go to ARTIFACT_DIR (admin-ui.png: the Sockets view at the end; admin-ui-socket.png:
// KEEP_SID's page). Requests to other hosts (web fonts, icon CDN) are refused: loopback only.
// One JSON object goes to stdout: {"ok": bool, "checks": {...}, "error"?: str}.
"use strict";

const path = require("node:path");
const { chromium } = require("playwright-core");

const [url, username, password, keepSid, dropSid, room, artifacts, executablePath] =
  process.argv.slice(2);
const WAIT = 15000;
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

async function login(page, pass) {
  const dialog = page.locator(".v-dialog--active");
  await dialog.waitFor({ state: "visible" });
  const inputs = dialog.locator("input:not([type=checkbox])");
  await inputs.nth(0).fill(url.replace(/\/$/, ""));
  await inputs.nth(1).fill(username);
  await dialog.locator("input[type=password]").fill(pass);
  await dialog.locator("button[type=submit]").click();
}

async function main() {
  const checks = { page_errors: [] };
  // launch() gives each run a fresh temporary profile (its own --user-data-dir).
  const browser = await chromium.launch({
    executablePath: executablePath || "/usr/bin/chromium", args: ARGS, headless: true,
  });
  let page;
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const origin = new URL(url).origin;
    await context.route("**/*", (route) =>
      route.request().url().startsWith(origin) ? route.continue() : route.abort());
    page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on("pageerror", (err) => checks.page_errors.push(String(err)));

    await page.goto(new URL("admin/", url).href, { waitUntil: "domcontentloaded" });
    await login(page, password + "-wrong");
    const error = page.locator(".v-dialog--active .red--text");
    await error.waitFor({ state: "visible" });
    checks.wrong_password = (await error.innerText()).trim();
    await login(page, password);
    await page.locator(".v-dialog--active").waitFor({ state: "hidden" });
    checks.login = "connected";

    await page.goto(new URL("admin/#/sockets/", url).href);
    await page.locator(`tr:has-text("${keepSid}")`).first().waitFor();
    await page.locator(`tr:has-text("${dropSid}")`).first().waitFor();
    checks.sockets = await page.locator("tbody tr").allInnerTexts();

    await page.goto(new URL("admin/#/rooms/", url).href);
    await page.locator(`tr:has-text("${room}")`).first().waitFor();
    checks.rooms = await page.locator("tbody tr").allInnerTexts();

    await page.goto(new URL(`admin/#/n/${encodeURIComponent("/")}/sockets/${keepSid}`, url).href);
    const joinForm = page.locator("form:has(.select-room)");
    await joinForm.locator("input[type=text]").fill("vip");
    await joinForm.locator("button[type=submit]").click();
    await page.locator('tr:has-text("vip")').first().waitFor();
    checks.join = await page.locator("tbody tr").allInnerTexts();
    await page.screenshot({ path: path.join(artifacts, "admin-ui-socket.png") });

    await page.goto(new URL("admin/#/sockets/", url).href);
    // The socket's page may still be fading out: its rows name the sid too, but have no button.
    const row = page.locator("tr", { hasText: dropSid }).filter({ has: page.locator("button") });
    await row.first().locator("button").first().click();
    // The click also reaches the row, which opens the socket's page (as with Node's server):
    // back to the list, where the row must go.
    await page.locator("text=DISCONNECTED").first().waitFor();
    await page.goto(new URL("admin/#/sockets/", url).href);
    await page.waitForFunction(
      (sid) => ![...document.querySelectorAll("tr")].some((tr) => tr.innerText.includes(sid)),
      dropSid);
    await page.locator(`tr:has-text("${keepSid}")`).first().waitFor();
    checks.drop = "gone";
    await page.screenshot({ path: path.join(artifacts, "admin-ui.png") });
    console.log(JSON.stringify({ ok: true, checks }));
  } catch (err) {
    if (page) await page.screenshot({ path: path.join(artifacts, "admin-ui-failed.png") });
    console.log(JSON.stringify({ ok: false, checks, error: String(err && err.stack || err) }));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

main();
