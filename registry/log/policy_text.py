"""Witness policies in the c2sp.org/tlog-policy text format: parsed strictly, evaluated.

c2sp.org/tlog-policy §Policy file syntax and structure, line by line (items separated by
ASCII spaces and tabs only; empty lines and lines starting with ``#`` are ignored)::

    log <vkey> [<url>]                      a log (type 0x01 vkey); none needed
    witness <name> <vkey> [<url>]           a witness (type 0x04 cosignature vkey)
    group <name> all|any|<k> <name>...      k of its n members must have witnessed
    quorum <name>|none                      exactly one; what must witness a checkpoint

A group or the quorum names only witnesses and groups defined on earlier lines; a name is
defined once and listed in a group at most once; ``none`` is predefined and is no member.
Two vkeys wrapping the same public key are duplicates, refused for logs and for witnesses.
Only tab, newline, 0x20-0x7E and octets with the high bit set are allowed (§Character set).

``verify_witnessed`` checks a cosigned checkpoint note against a policy: signed by a listed
log (when logs are listed), and the quorum satisfied by valid ``cosignature/v1`` lines.
tlog-policy has no notion of freshness; the registry's ``max_age_seconds`` (a field of the
``witness_policy`` record, docs/verification.md) is checked by ``stale_cosigners``.

Pure functions, no I/O; parsers raise ``InvalidInput``, verifiers ``VerificationError``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from registry.errors import InvalidInput, VerificationError
from registry.log.checkpoint import Checkpoint
from registry.log.cosignature import (
    Cosignature,
    CosignatureVerifier,
    open_cosignature,
    parse_cosignature_vkey,
)
from registry.log.note_keys import NoteVerifier, parse_vkey
from registry.log.signed_note import open_note, split_note

__all__ = [
    "MAX_ENTRIES",
    "NONE",
    "PolicyGroup",
    "PolicyLog",
    "PolicyWitness",
    "WitnessPolicy",
    "Witnessed",
    "format_policy",
    "parse_policy",
    "stale_cosigners",
    "verify_witnessed",
]

NONE = "none"
"""The predefined name of the empty quorum (``quorum none``)."""

MAX_ENTRIES = 32
"""Logs, witnesses and groups each: tlog-policy recommends supporting at least 32."""

_BAD_OCTETS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_WHITESPACE = re.compile(r"[ \t]+")
_DECIMAL = re.compile(r"[1-9][0-9]*")


@dataclass(frozen=True)
class PolicyLog:
    """A ``log`` line: the log's note verifier (its key name is the log's origin)."""

    verifier: NoteVerifier
    url: str | None = None


@dataclass(frozen=True)
class PolicyWitness:
    """A ``witness`` line: the policy's name for it, its cosignature key, its URL."""

    name: str
    verifier: CosignatureVerifier
    url: str | None = None


@dataclass(frozen=True)
class PolicyGroup:
    """A ``group`` line: witnessed when at least ``threshold`` of ``members`` are."""

    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class WitnessPolicy:
    """A parsed tlog-policy: logs, witnesses, groups (in file order) and the quorum."""

    logs: tuple[PolicyLog, ...]
    witnesses: tuple[PolicyWitness, ...]
    groups: tuple[PolicyGroup, ...]
    quorum: str

    def witness(self, name: str) -> PolicyWitness | None:
        """The witness the policy calls ``name``, if any."""
        return next((w for w in self.witnesses if w.name == name), None)

    def satisfied_by(self, witnessed: set[str]) -> bool:
        """Whether the quorum holds when exactly the witnesses named ``witnessed`` cosigned."""
        groups = {g.name: g for g in self.groups}

        def holds(name: str) -> bool:
            group = groups.get(name)
            if group is None:
                return name in witnessed
            return sum(1 for m in group.members if holds(m)) >= group.threshold

        return self.quorum == NONE or holds(self.quorum)


@dataclass(frozen=True)
class Witnessed:
    """What ``verify_witnessed`` found: the checkpoint and each valid cosignature, by the
    policy's witness name."""

    checkpoint: Checkpoint
    cosignatures: dict[str, Cosignature]


def _fields(line: str) -> list[str]:
    return [f for f in _WHITESPACE.split(line.strip(" \t")) if f]


def parse_policy(text: str) -> WitnessPolicy:
    """Parse a tlog-policy strictly; ``InvalidInput`` naming the line number and the fault."""
    if _BAD_OCTETS.search(text):
        raise InvalidInput("witness policy: only tab and newline may be control characters")
    logs: list[PolicyLog] = []
    witnesses: list[PolicyWitness] = []
    groups: list[PolicyGroup] = []
    defined: set[str] = set()
    public_keys: set[bytes] = set()
    quorum: str | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        fields = _fields(raw)
        if not fields or fields[0].startswith("#"):
            continue

        def bad(detail: str, number: int = number) -> InvalidInput:
            return InvalidInput(f"witness policy line {number}: {detail}")

        keyword, args = fields[0], fields[1:]
        if keyword == "log":
            if len(args) not in (1, 2):
                raise bad("expected 'log <vkey> [<url>]'")
            try:
                verifier = parse_vkey(args[0])
            except InvalidInput as exc:
                raise bad(f"log vkey: {exc.detail}") from None
            if verifier.public_key in public_keys:
                raise bad("duplicate key")
            public_keys.add(verifier.public_key)
            logs.append(PolicyLog(verifier, args[1] if len(args) == 2 else None))
        elif keyword == "witness":
            if len(args) not in (2, 3):
                raise bad("expected 'witness <name> <vkey> [<url>]'")
            name = args[0]
            if name in defined or name == NONE:
                raise bad(f"name {name!r} is already defined")
            try:
                cosigner = parse_cosignature_vkey(args[1])
            except InvalidInput as exc:
                raise bad(f"witness vkey: {exc.detail}") from None
            if cosigner.public_key in public_keys:
                raise bad("duplicate key")
            public_keys.add(cosigner.public_key)
            defined.add(name)
            witnesses.append(PolicyWitness(name, cosigner, args[2] if len(args) == 3 else None))
        elif keyword == "group":
            if len(args) < 3:
                raise bad("expected 'group <name> all|any|<k> <name>...'")
            name, threshold_text, members = args[0], args[1], tuple(args[2:])
            if name in defined or name == NONE:
                raise bad(f"name {name!r} is already defined")
            for member in members:
                if member not in defined:
                    raise bad(f"group member {member!r} is not defined on an earlier line")
            if len(set(members)) != len(members):
                raise bad("a name is listed twice in the group")
            if threshold_text == "all":
                threshold = len(members)
            elif threshold_text == "any":
                threshold = 1
            elif _DECIMAL.fullmatch(threshold_text) and int(threshold_text) <= len(members):
                threshold = int(threshold_text)
            else:
                raise bad(f"threshold {threshold_text!r} is not all, any or 1..{len(members)}")
            defined.add(name)
            groups.append(PolicyGroup(name, threshold, members))
        elif keyword == "quorum":
            if len(args) != 1:
                raise bad("expected 'quorum <name>'")
            if quorum is not None:
                raise bad("a second quorum line")
            if args[0] != NONE and args[0] not in defined:
                raise bad(f"quorum {args[0]!r} is not defined on an earlier line")
            quorum = args[0]
        else:
            raise bad(f"unknown keyword {keyword!r}")
        if max(len(logs), len(witnesses), len(groups)) > MAX_ENTRIES:
            raise bad(f"more than {MAX_ENTRIES} logs, witnesses or groups")
    if quorum is None:
        raise InvalidInput("witness policy: no quorum line")
    return WitnessPolicy(tuple(logs), tuple(witnesses), tuple(groups), quorum)


def format_policy(
    logs: Sequence[tuple[str, str | None]],
    witnesses: Sequence[tuple[str, str, str | None]],
    quorum: str,
    groups: Sequence[tuple[str, str, Sequence[str]]] = (),
) -> str:
    """The policy text of ``log``, ``witness`` and ``group`` lines and the ``quorum``, checked
    by parsing it back (``InvalidInput``)."""
    lines = [" ".join(p for p in ("log", vkey, url) if p) for vkey, url in logs]
    lines += [" ".join(p for p in ("witness", n, v, u) if p) for n, v, u in witnesses]
    lines += [" ".join(("group", n, t, *m)) for n, t, m in groups]
    lines.append(f"quorum {quorum}")
    text = "\n".join(lines) + "\n"
    parse_policy(text)
    return text


def verify_witnessed(policy: WitnessPolicy, note: str) -> Witnessed:
    """Verify a cosigned checkpoint note against ``policy`` (c2sp.org/tlog-policy §What is a
    "policy"?): signed by one of the listed logs under its origin (any log key is accepted
    when the policy lists none; the caller checks the log key then), and cosigned by valid
    ``cosignature/v1`` lines satisfying the quorum. Lines from keys the policy does not list
    are ignored. ``VerificationError`` naming what is missing."""
    text, signatures = split_note(note)
    checkpoint = Checkpoint.parse(text)
    if policy.logs:
        log_keys = [log.verifier for log in policy.logs if log.verifier.name == checkpoint.origin]
        if not log_keys:
            raise VerificationError(f"the witness policy lists no log named {checkpoint.origin!r}")
        opened = open_note(note, log_keys)
        if not opened.signatures:
            raise VerificationError("the checkpoint is not signed by the policy's log key")
    found: dict[str, Cosignature] = {}
    by_hash = {(w.verifier.name, w.verifier.key_hash): w for w in policy.witnesses}
    for signature in signatures:
        witness = by_hash.get((signature.name, signature.key_hash))
        if witness is None:
            continue
        try:
            found[witness.name] = open_cosignature(text, signature.line, witness.verifier)
        except VerificationError as exc:
            raise VerificationError(
                f"cosignature of witness {witness.name}: {exc.detail}"
            ) from None
    if not policy.satisfied_by(set(found)):
        have = ", ".join(sorted(found)) or "none"
        raise VerificationError(
            f"the checkpoint is not cosigned per the witness policy (quorum {policy.quorum}; "
            f"valid cosignatures from: {have})"
        )
    return Witnessed(checkpoint, found)


def stale_cosigners(witnessed: Witnessed, now: int, max_age_seconds: int) -> list[str]:
    """The witnesses whose cosignature is older than ``max_age_seconds`` at POSIX ``now``."""
    return sorted(
        name for name, c in witnessed.cosignatures.items() if now - c.timestamp > max_age_seconds
    )
