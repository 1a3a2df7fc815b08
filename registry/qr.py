"""QR codes for the livestream and for package labels (ISO/IEC 18004:2015).

Two kinds of symbol:

- the **stream QR** of an endorsement, shown on a livestream: ``{BASE}/E/{CODE}`` upper-cased,
  so the whole URL fits QR *alphanumeric* mode (11 bits per 2 characters instead of 8 bits per
  character, §7.4.4) and the symbol stays small on a compressed 720p stream. Scheme and host are
  case-insensitive (RFC 3986 §3.1, §3.2.2), the registry's ``/E/{code}`` route accepts any case
  and codes are upper-case Crockford base32 already. A base URL whose path would change meaning
  if upper-cased (or a character outside the alphanumeric set) falls back to byte mode;
- the **package label QR** of a batch: the GS1 Digital Link URI ``{base}/01/{GTIN}/10/{lot}``
  when the product has a GTIN (kept exactly as GS1 Digital Link 1.2 writes it: lot codes are
  case-sensitive and strict Digital Link parsers expect a lower-case scheme), else
  ``{BASE}/B/{CODE}`` like the stream QR.

Every symbol uses error correction level Q (~25 % of codewords recoverable), the smallest
version that holds the data, and a 4-module quiet zone (§6.3.8). Choosing the mask (§7.8.3,
8 trial encodings) makes one rendering cost 5-16 ms, so :class:`QRCache` renders each
(url, format, size) once.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from html import escape
from urllib.parse import urlsplit

import qrcode
from qrcode.constants import ERROR_CORRECT_Q
from qrcode.util import MODE_8BIT_BYTE, MODE_ALPHA_NUM, QRData

from registry.codes import normalize_code
from registry.gs1 import digital_link_path, normalize_gtin, validate_lot

QUIET_ZONE = 4
"""Modules of light margin on every side (ISO/IEC 18004:2015 §6.3.8)."""

ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
"""The 45 characters of alphanumeric mode (ISO/IEC 18004:2015 §7.4.4, table 5)."""

PNG_MIN_WIDTH = 64
"""Smallest PNG width served, in pixels; a requested width is clamped into range."""

PNG_MAX_WIDTH = 2048
"""Largest PNG width served, in pixels: bounds the work one request can cause."""


class Mode(StrEnum):
    """The one segment mode a symbol is encoded in (ISO/IEC 18004:2015 §7.4.4, §7.4.5)."""

    ALPHANUMERIC = "alphanumeric"
    BYTE = "byte"


@dataclass(frozen=True)
class Symbol:
    """An encoded QR symbol: ``modules[row][col]`` is True for a dark module (no quiet zone)."""

    data: str
    version: int
    mode: Mode
    modules: tuple[tuple[bool, ...], ...]

    @property
    def width(self) -> int:
        """Modules per side, without the quiet zone (17 + 4 × version)."""
        return len(self.modules)

    @property
    def width_with_quiet_zone(self) -> int:
        """Modules per side including the quiet zone on both sides."""
        return self.width + 2 * QUIET_ZONE


# --- URLs -----------------------------------------------------------------------------------


def _upper_scheme_and_host(base_url: str) -> str:
    """``http://Example.org:8000/x`` → ``HTTP://EXAMPLE.ORG:8000/x``: the case-insensitive
    parts upper-cased, the path (case-sensitive, RFC 3986 §6.2.2.1) kept."""
    parts = urlsplit(base_url.rstrip("/"))
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"base URL {base_url!r} needs a scheme and a host")
    if "@" in parts.netloc:  # userinfo is case-sensitive; not something a QR should carry
        raise ValueError("a public base URL must not contain credentials")
    return f"{parts.scheme.upper()}://{parts.netloc.upper()}{parts.path}"


def fits_alphanumeric(text: str) -> bool:
    """Whether ``text`` is non-empty and can be encoded entirely in alphanumeric mode."""
    return bool(text) and all(c in ALPHANUMERIC for c in text)


def stream_url(base_url: str, code: str) -> str:
    """The URL in an endorsement's stream QR: ``HTTP://127.0.0.1:8000/E/VEKABSKBV``.

    Alphanumeric-mode-ready whenever the base URL's path is empty or already upper-case;
    :func:`encode` falls back to byte mode otherwise, so the URL always works."""
    return f"{_upper_scheme_and_host(base_url)}/E/{normalize_code(code)}"


def batch_url(base_url: str, gtin: str | None, lot: str, code: str) -> str:
    """The URL on a batch's package label: its GS1 Digital Link URI when the product has a
    GTIN (``https://host/01/06901234567892/10/GF2026-001``), else ``HTTPS://HOST/B/{CODE}``."""
    if gtin:
        return base_url.rstrip("/") + digital_link_path(normalize_gtin(gtin), validate_lot(lot))
    return f"{_upper_scheme_and_host(base_url)}/B/{normalize_code(code)}"


# --- encoding -------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def encode(url: str) -> Symbol:
    """Encode ``url`` at error correction Q in the smallest version that holds it, in
    alphanumeric mode when every character allows it, else in byte mode (UTF-8)."""
    mode = Mode.ALPHANUMERIC if fits_alphanumeric(url) else Mode.BYTE
    qr = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_Q, border=0)
    # One segment in an explicit mode: the library's optimiser would split the URL into
    # mixed segments, whose headers cost more than they save on URLs this short.
    qr.add_data(
        QRData(url.encode(), mode=MODE_ALPHA_NUM if mode is Mode.ALPHANUMERIC else MODE_8BIT_BYTE)
    )
    qr.make(fit=True)  # best_fit: the smallest version (1-40) whose capacity holds the data
    matrix = qr.get_matrix()
    return Symbol(
        data=url,
        version=int(qr.version),
        mode=mode,
        modules=tuple(tuple(bool(m) for m in row) for row in matrix),
    )


# --- rendering ------------------------------------------------------------------------------


def svg_path(symbol: Symbol) -> str:
    """SVG path data drawing the dark modules as one rectangle per horizontal run, in module
    units with the quiet zone as offset."""
    parts = []
    for y, row in enumerate(symbol.modules):
        x = 0
        while x < symbol.width:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < symbol.width and row[x]:
                x += 1
            run = x - start
            parts.append(f"M{start + QUIET_ZONE} {y + QUIET_ZONE}h{run}v1h-{run}z")
    return "".join(parts)


def render_svg(url: str, *, pixels: int | None = None, title: str | None = None) -> str:
    """A standalone SVG of the QR for ``url``: one module per user unit, a white square
    including the quiet zone, crisp edges. ``pixels`` sets width and height (else the
    symbol scales to its container)."""
    symbol = encode(url)
    n = symbol.width_with_quiet_zone
    size = f' width="{pixels}" height="{pixels}"' if pixels else ""
    label = escape(title or url, quote=True)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}"{size}'
        f' shape-rendering="crispEdges" role="img" aria-label="{label}"'
        f' data-qr-version="{symbol.version}" data-qr-mode="{symbol.mode.value}">'
        f"<title>{escape(title or url)}</title>"
        f'<rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path fill="#000" d="{svg_path(symbol)}"/>'
        "</svg>"
    )


def clamp_png_width(width: int) -> int:
    """``width`` clamped into [``PNG_MIN_WIDTH``, ``PNG_MAX_WIDTH``]."""
    return max(PNG_MIN_WIDTH, min(PNG_MAX_WIDTH, width))


def render_png(url: str, box_size: int = 10, *, width: int | None = None) -> bytes:
    """A 1-bit greyscale PNG of the QR for ``url``.

    ``box_size`` pixels per module with a 4-module quiet zone; or, with ``width``, the image
    is exactly ``width`` pixels square (clamped to 64-2048): the largest whole number of
    pixels per module that fits, the rest added to the quiet zone, so modules stay sharp."""
    symbol = encode(url)
    n = symbol.width_with_quiet_zone
    if width is not None:
        width = clamp_png_width(width)
        box_size = max(1, width // n)
        width = max(width, n * box_size)
    else:
        if box_size < 1:
            raise ValueError("box_size must be at least 1")
        width = n * box_size
    margin = (width - symbol.width * box_size) // 2  # ≥ QUIET_ZONE modules
    return _png_1bit(_rows(symbol, box_size, margin, width), width)


def _rows(symbol: Symbol, box: int, margin: int, width: int) -> list[bytes]:
    """Packed 1-bit rows (1 = white, PNG greyscale), each module row repeated ``box`` times."""
    light = _pack([True] * width)
    rows = [light] * margin
    for module_row in symbol.modules:
        pixels = [True] * margin
        for dark in module_row:
            pixels.extend([not dark] * box)
        pixels.extend([True] * (width - len(pixels)))
        rows.extend([_pack(pixels)] * box)
    rows.extend([light] * (width - len(rows)))
    return rows


def _pack(pixels: list[bool]) -> bytes:
    out = bytearray((len(pixels) + 7) // 8)
    for i, white in enumerate(pixels):
        if white:
            out[i >> 3] |= 0x80 >> (i & 7)
    return bytes(out)


def _png_1bit(rows: list[bytes], width: int) -> bytes:
    """PNG (ISO/IEC 15948): IHDR bit depth 1, colour type 0 (greyscale); filter type 0."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, len(rows), 1, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


# --- cache ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """One rendered image as served: bytes, media type, ETag and the QR version it holds."""

    body: bytes
    media_type: str
    etag: str  # strong validator: a quoted hash of the body (RFC 9110 §8.8.3)
    version: int


class QRCache:
    """Rendered QR images by (url, format, size): rendered once, LRU-bounded, thread-safe.

    Rendering happens outside the lock (two threads may both render a new key once; the
    result is identical), so a slow render never blocks requests for cached images."""

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str, int], Rendered] = OrderedDict()
        self.renders = 0  # for tests and metrics

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def svg(self, url: str) -> Rendered:
        """The SVG of ``url``'s QR (``render_svg``), rendered at most once while cached."""
        return self._get((url, "svg", 0), lambda: render_svg(url).encode(), "image/svg+xml")

    def png(self, url: str, width: int) -> Rendered:
        """The PNG of ``url``'s QR at ``width`` pixels (clamped), rendered once while cached."""
        width = clamp_png_width(width)
        return self._get((url, "png", width), lambda: render_png(url, width=width), "image/png")

    def _get(self, key: tuple[str, str, int], render: Callable[[], bytes], media: str) -> Rendered:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        body = render()
        rendered = Rendered(
            body=body,
            media_type=media,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            version=encode(key[0]).version,
        )
        with self._lock:
            self.renders += 1
            self._items[key] = rendered
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return rendered
