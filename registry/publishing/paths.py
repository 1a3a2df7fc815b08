"""The published tree: which file each scan URL maps to, and how long each may be cached.

The tree mirrors the URLs, so that a static server needs nothing but an index or extension
rule (deploy/nginx.conf):

- ``/e/{code}``, ``/E/{code}``: ``e/{code}/index.html`` (zh-CN), ``index.en.html``; chosen
  with ``?lang=``: ``lang-zh.html``, ``lang-en.html``. ``public, max-age=1``.
- ``/e/{code}/verify.json``: ``e/{code}/verify.json``; ``/api/v1/verify/{code}``:
  ``api/v1/verify/{code}.json`` (the same bytes). ``public, max-age=1``.
- ``/log/checkpoint``, ``/log/vkey``: the same names. ``public, max-age=1``.
- ``/log/tile/<L>/<N>``, ``/log/tile/entries/<N>``: the same names, immutable; a partial
  tile ``…/<N>.p/<W>``: ``public, max-age=60``.
- ``/static/<name>.<hash>.<ext>``: immutable; ``/static/<name>``: ``public, max-age=300``.

Files whose name starts with a dot (``.publish/``: the publisher's state and the web server's
header snippet) are not part of the tree and are never served.
"""

from __future__ import annotations

import re

SHORT = "public, max-age=1"
"""Status-bearing files and the checkpoint: a change shows everywhere within 2 s."""
IMMUTABLE = "public, max-age=31536000, immutable"
PARTIAL = "public, max-age=60"
STATIC = "public, max-age=300"

STATE_DIR = ".publish"
"""Below the published root: the publisher's state and the nginx header snippet."""

PAGE_VARIANTS = {
    # file name in e/{code}/: (language, chosen with ?lang=)
    "index.html": ("zh", False),
    "index.en.html": ("en", False),
    "lang-zh.html": ("zh", True),
    "lang-en.html": ("en", True),
}
"""The consumer page's files: per language, negotiated (``Accept-Language``) or chosen."""

_HASHED = re.compile(r"^static/.+\.[0-9a-f]{16}\.[a-z0-9]+$")
_PARTIAL = re.compile(r"^log/tile/.*\.p/[0-9]+$")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
_COMPRESSIBLE = (".html", ".json", ".js", ".css")


def page_path(code: str, name: str = "index.html") -> str:
    """The consumer page file of ``code``."""
    return f"e/{code}/{name}"


def document_paths(code: str) -> tuple[str, str]:
    """The two names of the verification document: the page's fetch and the API's."""
    return f"e/{code}/verify.json", f"api/v1/verify/{code}.json"


def tile_path(tile_path_below_log: str) -> str:
    """A tile's file: ``log/`` + its tlog-tiles path."""
    return f"log/{tile_path_below_log}"


def hashed_name(name: str, digest_hex: str) -> str:
    """``verify.js`` -> ``verify.<16 hex>.js``: a name that changes with the content."""
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{digest_hex[:16]}.{ext}" if dot else f"{name}.{digest_hex[:16]}"


def cache_control(path: str) -> str:
    """The ``Cache-Control`` a published file is served with (the table above)."""
    if path.startswith("log/tile/"):
        return PARTIAL if _PARTIAL.match(path) else IMMUTABLE
    if _HASHED.match(path):
        return IMMUTABLE
    if path.startswith("static/"):
        return STATIC
    return SHORT


def content_type(path: str) -> str:
    """The media type of a published file."""
    if path.startswith("log/tile/"):
        return "application/octet-stream"
    if path.startswith("log/"):
        return "text/plain; charset=utf-8"
    for ext, media in _TYPES.items():
        if path.endswith(ext):
            return media
    return "application/octet-stream"


def is_compressible(path: str) -> bool:
    """Whether precompressed encodings are written next to the file (text, entry bundles)."""
    return path.endswith(_COMPRESSIBLE) or path.startswith("log/tile/entries/")
