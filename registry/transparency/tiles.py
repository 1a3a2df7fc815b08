"""The log as C2SP tlog-tiles: Merkle tree tiles and entry bundles, read from the database.

c2sp.org/tlog-tiles §Merkle Tree: tile ``N`` at tile level ``L`` is the sequence of the
Merkle Tree Hashes ``MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L])`` for ``i`` in
``0..W-1``. Each of those is a complete, aligned subtree of ``2**(8L)`` leaves, i.e. exactly
the row ``(level=8L, idx=N*256 + i)`` of ``log_nodes``: a tile is one primary-key range
scan, and since stored nodes never change, a full tile (``W = 256``) never changes either.

§Log entries: entry bundle ``N`` holds the entries ``[N*256, N*256 + W)``, each as a
big-endian uint16 length followed by the entry. Our entries are the records' exact leaf
bytes, so every entry hashes (RFC 6962 ``0x00 || leaf``) to the same position of the level-0
tile.

§Partial tiles: the rightmost tiles of a tree are partial (``.p/<W>``, ``1 <= W <= 255``).
A partial tile is a prefix of the full tile it will become, so any ``W`` whose hashes exist
in the latest checkpointed tree is served; that includes the partial tiles of every earlier
checkpoint, which the spec requires.

Paths (§Merkle Tree): ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``, with ``N``
split into zero-padded 3-digit elements, all but the last prefixed ``x``
(1234067 -> ``x001/x234/067``). Only the canonical spelling of a path names a tile, so a
cache holds one copy of each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import NotFound
from registry.models import LogNode, Record
from registry.transparency import log as log_service

__all__ = [
    "MAX_ENTRY_SIZE",
    "MAX_TILE_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "EntryBundle",
    "Tile",
    "encode_tile_index",
    "parse_tile_index",
    "parse_tile_path",
    "partial_width",
    "read_entry_bundle",
    "read_tile",
    "read_tile_resource",
]

TILE_HEIGHT = 8
"""Tree levels spanned by one tile (tlog-tiles fixes it at 8)."""

TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes (or entries) in a full tile: 256, i.e. 8,192 bytes of hashes."""

MAX_TILE_LEVEL = 63
"""Largest ``<L>`` a path may name (tlog-tiles: 0..63)."""

MAX_ENTRY_SIZE = 0xFFFF
"""An entry-bundle entry carries a uint16 length, so no entry may be longer."""

_HASH_SIZE = 32
_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # ASCII only: \d would admit other scripts
_ELEMENT = re.compile(r"[0-9]{3}")


@dataclass(frozen=True)
class Tile:
    """Merkle tile ``index`` at tile level ``level`` holding ``width`` hashes."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        _check_coordinates(self.index, self.width)
        if not 0 <= self.level <= MAX_TILE_LEVEL:
            raise NotFound(f"tile level must be within 0..{MAX_TILE_LEVEL}")

    @property
    def partial(self) -> bool:
        """Whether the tile is partial (C2SP tlog-tiles: under 256 hashes, ``.p/<width>``)."""
        return self.width < TILE_WIDTH

    @property
    def node_level(self) -> int:
        """The ``log_nodes.level`` of the hashes in this tile: ``8 * level``."""
        return TILE_HEIGHT * self.level

    @property
    def first_node(self) -> int:
        """``log_nodes.idx`` of the first hash; the tile is ``[first_node, +width)``."""
        return self.index * TILE_WIDTH

    def path(self) -> str:
        """The tlog-tiles path below the log prefix, e.g. ``tile/1/x001/067.p/17``."""
        return f"tile/{self.level}/{_path_suffix(self.index, self.width)}"


@dataclass(frozen=True)
class EntryBundle:
    """Entry bundle ``index``: the leaves ``[index * 256, index * 256 + width)``."""

    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        _check_coordinates(self.index, self.width)

    @property
    def partial(self) -> bool:
        """Whether this is a partial bundle (fewer than 256 entries)."""
        return self.width < TILE_WIDTH

    @property
    def first_leaf(self) -> int:
        """The log index of the bundle's first entry."""
        return self.index * TILE_WIDTH

    def path(self) -> str:
        """The tlog-tiles path below the log prefix, e.g. ``tile/entries/x001/067.p/17``."""
        return f"tile/entries/{_path_suffix(self.index, self.width)}"


def _check_coordinates(index: int, width: int) -> None:
    if index < 0:
        raise NotFound("a tile index is never negative")
    if not 1 <= width <= TILE_WIDTH:
        raise NotFound(f"a tile is 1..{TILE_WIDTH} hashes wide")


def _path_suffix(index: int, width: int) -> str:
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return encode_tile_index(index) + suffix


# --- paths (c2sp.org/tlog-tiles §Merkle Tree) ---------------------------------------------------


def encode_tile_index(index: int) -> str:
    """``index`` as zero-padded 3-digit path elements, all but the last prefixed ``x``."""
    if index < 0:
        raise ValueError("a tile index is never negative")
    elements = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        elements.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(elements))


def parse_tile_index(text: str) -> int:
    """Inverse of ``encode_tile_index``; only the canonical spelling is accepted (NotFound)."""
    elements = text.split("/")
    value = 0
    for position, element in enumerate(elements):
        last = position == len(elements) - 1
        digits = element if last else element.removeprefix("x")
        if (not last and not element.startswith("x")) or not _ELEMENT.fullmatch(digits):
            raise NotFound(f"{text!r} is not a tile index (expected e.g. x001/x234/067)")
        value = value * 1000 + int(digits)
    if encode_tile_index(value) != text:  # e.g. x000/005, a second spelling of 005
        raise NotFound(f"{text!r} is not the canonical spelling of tile index {value}")
    return value


def _parse_decimal(text: str, what: str) -> int:
    if not _DECIMAL.fullmatch(text):
        raise NotFound(f"{what} must be a decimal number without leading zeros")
    return int(text)


def parse_tile_path(path: str) -> Tile | EntryBundle:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``.

    Anything else names no tile and raises ``NotFound`` (tiles are a static namespace).
    """
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise NotFound(f"{path!r} is not a tile path")
    kind, rest = parts[1], parts[2:]
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        width = _parse_decimal(rest[-1], "a partial tile width")
        if not 1 <= width < TILE_WIDTH:
            raise NotFound(f"a partial tile is 1..{TILE_WIDTH - 1} wide, not {width}")
        rest = [*rest[:-2], rest[-2].removesuffix(".p")]
    index = parse_tile_index("/".join(rest))
    if kind == "entries":
        return EntryBundle(index, width)
    level = _parse_decimal(kind, "a tile level")
    return Tile(level, index, width)


def partial_width(tree_size: int, level: int) -> int:
    """Width of the partial tile at tile ``level`` of a tree (0: there is none).

    tlog-tiles §Partial Tiles: ``floor(s / 256**l) mod 256``.
    """
    return (tree_size >> (TILE_HEIGHT * level)) % TILE_WIDTH


# --- reading ------------------------------------------------------------------------------------


def _beyond(what: str, needed: int, have: int, tree_size: int) -> NotFound:
    return NotFound(
        f"{what} is beyond the log: it needs {needed} node(s) at its level, the latest "
        f"checkpoint (tree size {tree_size}) has {have}",
        tree_size=tree_size,
    )


def read_tile(session: Session, tile: Tile) -> bytes:
    """The ``width * 32`` bytes of ``tile``; ``NotFound`` if it is not in the latest tree."""
    tree_size = log_service.tree_size(session)
    available = tree_size >> tile.node_level
    end = tile.first_node + tile.width
    if end > available:
        raise _beyond(tile.path(), end, available, tree_size)
    rows = session.execute(
        select(LogNode.idx, LogNode.hash)
        .where(
            LogNode.level == tile.node_level,
            LogNode.idx >= tile.first_node,
            LogNode.idx < end,
        )
        .order_by(LogNode.idx)
    ).all()
    # Every node of a published tree is stored when its subtree completes; a hole is
    # corruption, not a client error, so it is not reported as one.
    if [idx for idx, _ in rows] != list(range(tile.first_node, end)):
        raise RuntimeError(f"log_nodes lacks hashes of {tile.path()} in tree size {tree_size}")
    hashes = [h for _, h in rows]
    if any(len(h) != _HASH_SIZE for h in hashes):
        raise RuntimeError(f"log_nodes holds a hash of {tile.path()} that is not 32 bytes")
    return b"".join(hashes)


def read_entry_bundle(session: Session, bundle: EntryBundle) -> bytes:
    """The entries of ``bundle``, each as uint16 big-endian length || leaf bytes."""
    tree_size = log_service.tree_size(session)
    end = bundle.first_leaf + bundle.width
    if end > tree_size:
        raise _beyond(bundle.path(), end, tree_size, tree_size)
    rows = session.execute(
        select(Record.log_index, Record.leaf)
        .where(Record.log_index >= bundle.first_leaf, Record.log_index < end)
        .order_by(Record.log_index)
    ).all()
    if [i for i, _ in rows] != list(range(bundle.first_leaf, end)):
        raise RuntimeError(f"records lacks leaves of {bundle.path()} in tree size {tree_size}")
    out = bytearray()
    for index, leaf in rows:
        if len(leaf) > MAX_ENTRY_SIZE:
            raise RuntimeError(f"leaf {index} is {len(leaf)} bytes, too long for an entry bundle")
        out += len(leaf).to_bytes(2, "big")
        out += leaf
    return bytes(out)


def read_tile_resource(session: Session, path: str) -> tuple[Tile | EntryBundle, bytes]:
    """Parse a tile path and read what it names: ``(tile or bundle, body)``."""
    resource = parse_tile_path(path)
    if isinstance(resource, EntryBundle):
        return resource, read_entry_bundle(session, resource)
    return resource, read_tile(session, resource)
