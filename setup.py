"""Build the optional C accelerator ``websocket._speedups``; everything else is in pyproject.toml.

The extension is ``optional``: without a C compiler (or without the Python headers) setuptools
prints a warning and installs the package without it, and ``websocket.frames`` falls back to its
pure-Python reference. Set ``WEBSOCKET_NO_SPEEDUPS=1`` at run time to ignore a built extension.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "websocket._speedups",
            sources=["websocket/_speedups.c"],
            optional=True,
        )
    ]
)
