"""A chat bot on the blocking Socket.IO :class:`~socketio_core.aio.Client` (python-socketio's
tutorial client): plain functions, no ``async``.

It joins ``#lobby`` as ``chatbot``, acknowledges what it receives (so senders see their
"delivered" tick), greets people who join its room, answers a few commands in the room
(``!help``, ``!time``, ``!who``, ``!roll``) and echoes direct messages.

``python -m demo`` starts it next to the server, in the same process: :class:`ChatBot`'s
client runs its own daemon threads (its event loop and its handler thread), so the server's
event loop never waits for it. On its own, against a running chat::

    python -m demo.bot http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import itertools
import logging
import random
import threading
import time
from typing import Any

from socketio_core.aio import Client

__all__ = ["ChatBot", "main"]

logger = logging.getLogger(__name__)

HELP = "commands: !help, !time, !who, !roll (or send me a direct message)"


class ChatBot:
    """The bot: a blocking client with handlers registered the tutorial's way.

    Args:
        url: the chat server, ``http://host:port``.
        name: the bot's name in the chat.
        room: the room it joins.
    """

    def __init__(self, url: str, name: str = "chatbot", room: str = "lobby") -> None:
        self.url = url
        self.name = name
        self.room = room
        self.members: list[dict[str, str]] = []
        self.joined = threading.Event()
        self._ids = itertools.count(1)
        self.sio = Client(reconnection=False)
        # python-socketio's tutorial registers with ``@sio.on(...)``; ``sio.on(event, handler)``
        # is the same call, and keeps the handlers typed methods.
        self.sio.on("connect", self.on_connect)
        self.sio.on("presence", self.on_presence)
        self.sio.on("message", self.on_message)
        self.sio.on("image", self.on_image)

    # ------------------------------------------------------------------- handlers
    # They run in the client's handler thread, one at a time: blocking calls are fine here.

    def on_connect(self) -> None:
        """Connected: join the room (``call`` waits for the server's ack)."""
        reply = self.sio.call("join", {"name": self.name, "room": self.room}, timeout=10)
        if reply.get("ok"):
            self.members = reply["members"]
            self.joined.set()
            logger.info("bot joined #%s as %s", self.room, self.name)
        else:
            logger.error("bot could not join: %s", reply.get("error"))

    def on_presence(self, data: dict[str, Any]) -> None:
        """Someone joined or left a room: greet newcomers to ours."""
        if data.get("room") != self.room:
            return
        self.members = data["members"]
        if data["action"] == "joined":
            self.say(f"Welcome, {data['user']['name']}! {HELP}")

    def on_message(self, data: dict[str, Any]) -> bool:
        """A message: echo direct ones, answer ``!commands``; the ack marks it delivered."""
        sender = data["from"]
        text = data["text"].strip()
        if data["kind"] == "direct":
            self.tell(sender["sid"], f"You said: {text}")
        elif data["kind"] == "room" and text.startswith("!"):
            self.command(text)
        return True

    def on_image(self, data: dict[str, Any]) -> bool:
        """An image: say how big it was, and ack it."""
        self.say(f"Nice picture, {data['from']['name']} ({len(data['data'])} bytes).")
        return True

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 10) -> None:
        """Connect and join (blocks until joined).

        Raises:
            TimeoutError: the join did not complete within ``timeout`` seconds.
        """
        self.sio.connect(self.url)
        if not self.joined.wait(timeout):
            self.sio.disconnect()
            raise TimeoutError(f"the bot could not join #{self.room} at {self.url}")

    def stop(self) -> None:
        """Leave the chat."""
        self.sio.disconnect()

    # -------------------------------------------------------------------- talking

    def next_id(self) -> str:
        """A message id, unique for this bot."""
        return f"{self.name}-{next(self._ids)}"

    def say(self, text: str) -> None:
        """A message to the bot's room."""
        self.sio.emit("room_message", {"id": self.next_id(), "room": self.room, "text": text})

    def tell(self, sid: str, text: str) -> None:
        """A direct message."""
        self.sio.emit("direct_message", {"id": self.next_id(), "to": sid, "text": text})

    def command(self, text: str) -> None:
        """Answer ``!command`` in the room."""
        word = text[1:].split(maxsplit=1)[0].lower() if len(text) > 1 else ""
        if word == "time":
            self.say(time.strftime("It is %H:%M:%S here."))
        elif word == "who":
            names = ", ".join(member["name"] for member in self.members)
            self.say(f"In #{self.room}: {names}.")
        elif word == "roll":
            self.say(f"\N{GAME DIE} {random.randint(1, 6)}")
        else:
            self.say(HELP)


def main(argv: list[str] | None = None) -> None:
    """``python -m demo.bot [URL]``: run the bot until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m demo.bot", description=__doc__.split("\n")[0])
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8000")
    parser.add_argument("--name", default="chatbot")
    parser.add_argument("--room", default="lobby")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("demo").setLevel(logging.INFO)  # the bot's lines, not the library's
    bot = ChatBot(args.url, args.name, args.room)
    bot.start()
    print(f"{args.name} is in #{args.room} at {args.url}; Ctrl-C to stop", flush=True)
    try:
        bot.sio.wait()
    except KeyboardInterrupt:
        bot.stop()


if __name__ == "__main__":
    main()
