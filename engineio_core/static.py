"""Static file resolution for the front doors, sans I/O: URL path -> file name and content type.

The configuration is python-engineio's ``static_files`` dictionary. Each key is a URL path
and each value is a file or directory name, or a dict with ``filename`` and, optionally,
``content_type``::

    {
        "/": "index.html",                    # one file
        "/static": "./public",                # a directory: /static/app.js -> ./public/app.js
        "/logo": {"filename": "logo.svg", "content_type": "image/svg+xml"},
        "": "index.html",                     # the file served for a directory URL ("/x/")
    }

Relative names are relative to the process's working directory, as in python-engineio.
A URL path is matched exactly first, then by its longest mapped prefix (with or without a
trailing slash); the unmatched rest is appended to the mapped name.

Path traversal: the rest of the URL path must be made of plain segments. Any ``..`` segment,
an empty segment (``//``), a backslash or a NUL byte refuses the request outright (the caller
answers 404), so a name outside the mapped directory can never be produced. This module does
not touch the file system: the caller checks that the file exists (symbolic links inside a
served directory are followed, as any static file server does).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["StaticFile", "StaticFiles", "resolve_static"]

#: python-engineio's ``static_files`` format.
StaticFiles = Mapping[str, "str | Mapping[str, str]"]

DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class StaticFile:
    """A static file to serve: where it is and how to label it."""

    filename: str
    content_type: str


def resolve_static(path: str, static_files: StaticFiles) -> StaticFile | None:
    """Find the file a URL path maps to.

    Args:
        path: the request path, percent-decoded, relative to the application's root path.
        static_files: the configuration (see the module docstring).

    Returns:
        The file and its content type (from the mapping, else from :mod:`mimetypes`), or None
        when no rule matches or the path tries to leave a mapped directory.
    """
    if not static_files or "\x00" in path or "\\" in path:
        return None
    entry = static_files.get(path)
    rest = ""
    head = path
    while entry is None and head:
        head, last = head.rsplit("/", 1) if "/" in head else ("", head)
        rest = f"/{last}{rest}"
        entry = static_files.get(head) if head else None  # "" names the index file
        if entry is None:
            entry = static_files.get(head + "/")
    if entry is None:
        return None
    inner = rest.split("/")[1:-1]  # the segments before the last one
    if ".." in rest.split("/") or "" in inner:
        return None  # path traversal: never resolve a name outside the mapped one
    filename, content_type = _unpack(entry)
    if (not filename or filename.endswith("/")) and rest.startswith("/"):
        rest = rest[1:]
    filename += rest
    if filename.endswith("/"):
        index = static_files.get("")
        if index is None:
            filename += "index.html"
        else:
            index_name, index_type = _unpack(index)
            filename += index_name
            content_type = index_type or content_type
    if content_type is None:
        content_type = mimetypes.guess_type(filename)[0] or DEFAULT_CONTENT_TYPE
    return StaticFile(filename, content_type)


def _unpack(entry: str | Mapping[str, str]) -> tuple[str, str | None]:
    """(filename, content type or None) of one configuration value."""
    if isinstance(entry, str):
        return entry, None
    return entry["filename"], entry.get("content_type")
