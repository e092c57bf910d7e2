"""``python -m demo``: the chat demo (the README's first command, ``make demo``, runs this).

Starts the chat server (:mod:`demo.server`) on ``--host``/``--port`` (127.0.0.1:8000), prints
the page's URL, then starts the bot (:mod:`demo.bot`) in this same process: its blocking
client runs on threads of its own. ``--no-bot`` leaves it out.

The server is instrumented for the official Socket.IO Admin UI, served at ``/admin/``: the
login printed at start is ``admin`` and a password made up for this run (hashed with scrypt
at once; ``--admin-password`` chooses it). ``--no-admin`` leaves the Admin UI out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import signal
import sys

from .bot import ChatBot
from .server import Chat, admin_ui_files, static_files


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


async def serve(host: str, port: int, *, bot: bool, admin_password: str | None = None) -> None:
    """Run the chat (and the bot) until Ctrl-C or SIGTERM; with ``admin_password``, the
    Admin UI too (user ``admin``)."""
    chat = Chat()
    files = dict(static_files())
    admin = None
    if admin_password is not None:
        files.update(admin_ui_files())
        admin = chat.sio.instrument(auth={"username": "admin", "password": admin_password})
    async with chat.sio.listen(host, port, static_files=files) as front:
        url = _url(host, front.port)
        print(f"Chat demo running: open {url} in a browser", flush=True)
        if admin is not None:
            print(
                f"Admin UI: open {url}admin/ and connect to server URL {url.rstrip('/')}"
                f" as admin / {admin_password}",
                flush=True,
            )
        chatbot = None
        if bot:
            local = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
            chatbot = ChatBot(_url(local, front.port).rstrip("/"))
            # The blocking client's connect() waits: run it off this loop, which serves it.
            await asyncio.to_thread(chatbot.start)
            print(f"Bot {chatbot.name!r} joined #{chatbot.room} (same process, own threads)")
        print("Ctrl-C to stop", flush=True)
        stop = asyncio.Event()
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await stop.wait()
        finally:
            if chatbot is not None:
                await asyncio.to_thread(chatbot.stop)
            if admin is not None:
                await admin.shutdown()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m demo", description="The chat demo.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-bot", action="store_true", help="do not start the chat bot")
    parser.add_argument("--no-admin", action="store_true", help="do not serve the Admin UI")
    parser.add_argument(
        "--admin-password", help="the Admin UI password of user admin (default: made up)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log connections")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        password = None if args.no_admin else args.admin_password or secrets.token_urlsafe(9)
        asyncio.run(serve(args.host, args.port, bot=not args.no_bot, admin_password=password))
    except KeyboardInterrupt:
        print("\nbye")
    except (FileNotFoundError, OSError) as exc:
        print(f"python -m demo: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
