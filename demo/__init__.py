"""The chat demo: a Socket.IO chat on our standalone server, its web page, and a bot.

``python -m demo`` (or ``make demo``) runs it; see :mod:`demo.server` for the events.
"""
