// The chat page: plain JavaScript on the official socket.io-client (the global `io`).
// The events are documented at the top of demo/server.py.
"use strict";

const ACK_TIMEOUT = 10000; // ms to wait for the server's ack of what we send
const MAX_IMAGE_BYTES = 512 * 1024;

const $ = (id) => document.getElementById(id);
const socket = io({ transports: ["websocket", "polling"], tryAllTransports: true });

const state = {
  name: null, // set by the first successful join
  rooms: [], // the rooms we are in
  current: null, // the selected room (the people list, images)
  members: {}, // room -> [{sid, name}]
  allRooms: [], // [{name, count}]: every room on the server
  nextId: 1,
  pending: new Map(), // message id -> its <li>, until "delivered"
};

// --------------------------------------------------------------------------- helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child); // strings become text: never HTML
  return node;
}

function clock(ts) {
  return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function hue(text) {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

function avatar(name) {
  return el("span", { class: "avatar", style: `--hue: ${hue(name)}`, "aria-hidden": "true" },
    name.slice(0, 1).toUpperCase());
}

function messageId() {
  return `${socket.id}-${state.nextId++}`;
}

async function sha256(buffer) {
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function setStatus(text, stateName) {
  $("status").textContent = text;
  $("status").dataset.state = stateName;
}

function showError(id, text) {
  $(id).textContent = text || "";
}

// ------------------------------------------------------------------------- the log

function scrollDown() {
  const log = $("messages");
  log.scrollTop = log.scrollHeight;
}

function notice(text) {
  $("messages").append(el("li", { class: "notice" }, text));
  scrollDown();
}

function where(msg) {
  if (msg.kind === "direct") return msg.mine ? `to ${msg.toName}` : "direct to you";
  if (msg.kind === "broadcast") return "to everyone";
  return `#${msg.room}`;
}

// One message bubble: `msg` has id, kind, from {sid, name}, ts, room?, text? / image?
function addMessage(msg, content) {
  const item = el("li", {
    class: `message ${msg.mine ? "mine" : "theirs"} kind-${msg.kind}`,
    "data-id": msg.id,
    "data-kind": msg.kind,
    "data-from": msg.from.name,
  });
  if (msg.room) item.dataset.room = msg.room;
  const meta = el("div", { class: "meta" },
    el("span", { class: "author" }, msg.mine ? "You" : msg.from.name),
    el("span", { class: "where" }, where(msg)),
    el("time", { datetime: new Date(msg.ts).toISOString() }, clock(msg.ts)));
  const bubble = el("div", { class: "bubble" }, meta, content);
  if (msg.mine) {
    bubble.append(el("span", { class: "ticks", "data-status": "sending", title: "sending",
      "aria-label": "sending" }, "…"));
    state.pending.set(msg.id, item);
  }
  item.append(avatar(msg.from.name), bubble);
  $("messages").append(item);
  scrollDown();
  return item;
}

function setTicks(id, status, label) {
  const item = state.pending.get(id);
  const ticks = item && item.querySelector(".ticks");
  if (!ticks) return;
  ticks.dataset.status = status;
  ticks.title = label;
  ticks.setAttribute("aria-label", label);
  ticks.textContent = { sent: "✓", alone: "✓", delivered: "✓✓", failed: "!" }[status] || "…";
  if (status !== "sent") state.pending.delete(id);
}

// ----------------------------------------------------------------- the side panels

function renderRooms() {
  const list = $("my-rooms");
  list.replaceChildren();
  if (!state.rooms.length) list.append(el("li", { class: "empty" }, "None yet: join one above."));
  for (const room of state.rooms) {
    const count = (state.members[room] || []).length;
    list.append(el("li", { class: room === state.current ? "selected" : "" },
      el("button", { type: "button", class: "room-button", "data-room": room,
        "aria-pressed": String(room === state.current), onclick: () => selectRoom(room) },
        `#${room}`, el("span", { class: "count" }, String(count))),
      el("button", { type: "button", class: "leave", "aria-label": `Leave #${room}`,
        title: `Leave #${room}`, onclick: () => leave(room) }, "×")));
  }
  renderPeople();
  renderTargets();
  renderAllRooms();
  const joined = state.rooms.length > 0;
  for (const id of ["text", "send", "image"]) $(id).disabled = !joined;
  $("image-label").setAttribute("aria-disabled", String(!state.current));
  $("image-label").textContent = state.current ? `Share an image in #${state.current}` : "Share an image";
  $("text").placeholder = joined ? "Write a message…" : "Join a room first";
}

function renderPeople() {
  $("people-room").textContent = state.current ? `#${state.current}` : "—";
  const list = $("people");
  list.replaceChildren();
  for (const person of state.members[state.current] || []) {
    const me = person.sid === socket.id;
    const item = el("li", { "data-sid": person.sid }, avatar(person.name),
      el("span", { class: "person" }, person.name, me ? el("em", {}, " (you)") : ""));
    if (!me) {
      item.append(el("button", { type: "button", class: "dm", "aria-label": `Message ${person.name} directly`,
        onclick: () => { $("target").value = `direct:${person.sid}`; $("text").focus(); } }, "Message"));
    }
    list.append(item);
  }
}

function renderTargets() {
  const select = $("target");
  const previous = select.value;
  select.replaceChildren();
  const rooms = el("optgroup", { label: "Rooms" });
  for (const room of state.rooms) rooms.append(el("option", { value: `room:${room}` }, `#${room}`));
  select.append(rooms, el("option", { value: "others" }, "Everyone but me"));
  const people = el("optgroup", { label: "Direct message" });
  const seen = new Set([socket.id]);
  for (const room of state.rooms) {
    for (const person of state.members[room] || []) {
      if (seen.has(person.sid)) continue;
      seen.add(person.sid);
      people.append(el("option", { value: `direct:${person.sid}` }, person.name));
    }
  }
  if (people.children.length) select.append(people);
  const values = Array.from(select.options, (o) => o.value);
  select.value = values.includes(previous) ? previous : state.current ? `room:${state.current}` : "others";
}

function renderAllRooms() {
  const rooms = state.allRooms;
  const list = $("all-rooms");
  list.replaceChildren();
  $("room-suggestions").replaceChildren(...rooms.map((r) => el("option", { value: r.name })));
  if (!rooms.length) list.append(el("li", { class: "empty" }, "No rooms yet."));
  for (const { name, count } of rooms) {
    const inside = state.rooms.includes(name);
    list.append(el("li", {},
      el("span", { class: "room-name" }, `#${name}`),
      el("span", { class: "count" }, `${count} online`),
      inside ? "" : el("button", { type: "button", class: "join-small", "aria-label": `Join #${name}`,
        onclick: () => join(name) }, "Join")));
  }
}

function selectRoom(room) {
  state.current = room;
  renderRooms();
  $("target").value = `room:${room}`;
}

function personName(sid) {
  for (const room of state.rooms) {
    const person = (state.members[room] || []).find((p) => p.sid === sid);
    if (person) return person.name;
  }
  return sid;
}

// ------------------------------------------------------------------ requests we send

function join(room) {
  const name = state.name || $("name").value.trim();
  if (!name) {
    showError("join-error", "Pick a name first.");
    $("name").focus();
    return;
  }
  socket.timeout(ACK_TIMEOUT).emit("join", { name, room }, (err, reply) => {
    if (err || !reply.ok) {
      showError("join-error", err ? "The server did not answer." : reply.error);
      return;
    }
    showError("join-error", "");
    state.name = reply.name;
    $("name").value = reply.name;
    $("name").readOnly = true;
    state.members[reply.room] = reply.members;
    if (!state.rooms.includes(reply.room)) {
      state.rooms.push(reply.room);
      notice(`You joined #${reply.room}`);
    }
    selectRoom(reply.room);
    $("text").focus();
  });
}

function leave(room) {
  socket.timeout(ACK_TIMEOUT).emit("leave", { room }, (err, reply) => {
    if (err || !reply.ok) return;
    state.rooms = state.rooms.filter((r) => r !== room);
    delete state.members[room];
    if (state.current === room) state.current = state.rooms[0] || null;
    notice(`You left #${room}`);
    renderRooms();
  });
}

// Send `payload` as `event`; show it at once, then tick it on the ack and on "delivered".
function send(event, payload, msg, content) {
  addMessage({ ...msg, id: payload.id, from: { sid: socket.id, name: state.name }, ts: Date.now(),
    mine: true }, content);
  socket.timeout(ACK_TIMEOUT).emit(event, payload, (err, reply) => {
    if (err || !reply.ok) {
      const why = err ? "the server did not answer" : reply.error;
      setTicks(payload.id, "failed", `not sent: ${why}`);
      showError("composer-error", `Not sent: ${why}`);
    } else {
      setTicks(payload.id, "sent", "sent");
    }
  });
}

function sendText(event) {
  event.preventDefault();
  const text = $("text").value.trim();
  const target = $("target").value;
  if (!text || !target) return;
  showError("composer-error", "");
  const id = messageId();
  const body = el("p", { class: "text" }, text);
  if (target.startsWith("room:")) {
    const room = target.slice(5);
    send("room_message", { id, room, text }, { kind: "room", room }, body);
  } else if (target.startsWith("direct:")) {
    const to = target.slice(7);
    send("direct_message", { id, to, text }, { kind: "direct", toName: personName(to) }, body);
  } else {
    send("broadcast", { id, text }, { kind: "broadcast" }, body);
  }
  $("text").value = "";
}

async function sendImage() {
  const file = $("image").files[0];
  $("image").value = "";
  if (!file || !state.current) return;
  if (file.size > MAX_IMAGE_BYTES) {
    showError("composer-error", `Images are limited to ${MAX_IMAGE_BYTES / 1024} KiB.`);
    return;
  }
  const data = await file.arrayBuffer();
  const img = await imageElement(data, file.type, file.name);
  const room = state.current;
  send("image", { id: messageId(), room, name: file.name, type: file.type, data },
    { kind: "room", room }, img);
}

async function imageElement(data, type, name) {
  const img = el("img", { class: "shared-image", alt: `Image ${name}`, "data-name": name,
    "data-bytes": String(data.byteLength), "data-sha256": await sha256(data) });
  img.src = URL.createObjectURL(new Blob([data], { type }));
  img.addEventListener("load", scrollDown);
  return el("figure", {}, img, el("figcaption", {}, name));
}

// --------------------------------------------------------------- events we receive

socket.on("connect", () => {
  setStatus(`Connected · ${socket.io.engine.transport.name}`, "connected");
  socket.io.engine.once("upgrade", () => setStatus("Connected · websocket", "connected"));
  // After a reconnection the server has forgotten us: join our rooms again.
  const rooms = state.rooms;
  state.rooms = [];
  for (const room of rooms) join(room);
});

socket.on("disconnect", () => setStatus("Disconnected · reconnecting…", "disconnected"));
socket.on("connect_error", () => setStatus("Cannot reach the server · retrying…", "disconnected"));

socket.on("rooms", ({ rooms }) => {
  state.allRooms = rooms;
  renderAllRooms();
});

socket.on("presence", ({ room, action, user, members }) => {
  state.members[room] = members;
  notice(`${user.name} ${action === "joined" ? "joined" : "left"} #${room}`);
  renderRooms();
});

socket.on("message", (msg, ack) => {
  addMessage(msg, el("p", { class: "text" }, msg.text));
  if (ack) ack(true); // the server counts this as delivered
});

socket.on("image", async (msg, ack) => {
  const bytes = msg.data instanceof Blob ? await msg.data.arrayBuffer() : msg.data;
  addMessage({ ...msg, kind: "room" }, await imageElement(bytes, msg.type, msg.name));
  if (ack) ack(true);
});

socket.on("delivered", ({ id, count, total }) => {
  if (total === 0) setTicks(id, "alone", "sent (nobody else is here)");
  else setTicks(id, "delivered", `delivered to ${count} of ${total}`);
});

$("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  join($("room").value.trim().replace(/^#/, ""));
});
$("composer").addEventListener("submit", sendText);
$("image").addEventListener("change", sendImage);
renderRooms();
notice("Welcome! Pick a name and join a room. In #lobby, the bot answers !help.");
