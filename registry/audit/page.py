"""What a viewer's phone is served, checked against the log (docs/audit.md, steps 7 and 8).

The phone trusts the code the consumer page runs, so the code itself must be a logged
release: a consumer page (``/e/{code}``, for a few codes the registry lists) may load only
scripts that carry a Subresource Integrity value, each script served must hash to that
value, and a ``script_release`` record must name it with that SHA-256; every hash its
``Content-Security-Policy`` admits must be a logged release too (the fallback verify.js
adds itself is admitted that way). And when the log holds a ``witness_policy``, the
checkpoint served must satisfy the latest one's quorum (c2sp.org/tlog-policy), every
``cosignature/v1`` line of the policy's witnesses verifying, and recently: cosignatures
within the policy's freshness window of the audit's clock must meet the quorum on their own.

Pure functions over what ``client.RegistryClient`` fetched and ``replay.LogReplay`` found;
``VerificationError`` names the script or the policy at fault.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from registry.audit.failures import failure
from registry.errors import InvalidInput, VerificationError
from registry.log.policy_text import parse_policy, verify_witnessed
from registry.records.schema import WitnessPolicy

__all__ = [
    "PAGES_CHECKED",
    "PageScript",
    "check_page_scripts",
    "check_script",
    "check_witness_policy",
    "choose_codes",
    "page_scripts",
]

PAGES_CHECKED = 3
"""Consumer pages fetched per audit run, chosen at random among the listed endorsements."""


@dataclass(frozen=True)
class PageScript:
    """A ``<script src>`` of a page: where it points (absolute) and its ``integrity``."""

    url: str
    integrity: str | None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def name(self) -> str:
        """The file name a ``script_release`` names it by."""
        return self.path.rsplit("/", 1)[-1]


class _ScriptTags(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.scripts: list[PageScript] = []
        self.inline = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "script":
            return
        values = dict(attrs)
        src = values.get("src")
        if src is None:
            self.inline += 1
        else:
            self.scripts.append(PageScript(urljoin(self.page_url, src), values.get("integrity")))


def page_scripts(page_url: str, html: str) -> tuple[list[PageScript], int]:
    """The external scripts of a page, in order, and how many inline scripts it has."""
    parser = _ScriptTags(page_url)
    parser.feed(html)
    parser.close()
    return parser.scripts, parser.inline


def choose_codes(codes: Sequence[str], rng: random.Random, count: int = PAGES_CHECKED) -> list[str]:
    """A few of the listed endorsement codes, at random (the server cannot tell which)."""
    return rng.sample(list(codes), min(count, len(codes)))


def _sha256_values(script: PageScript) -> list[bytes]:
    if not script.integrity:
        raise failure(
            None,
            None,
            f"the consumer page loads {script.path} without an integrity value, so a phone "
            "would run whatever the server sends",
        )
    digests = []
    for token in script.integrity.split():
        algorithm, _, value = token.partition("-")
        if algorithm != "sha256":
            raise failure(
                None,
                None,
                f"the consumer page names {script.path} by {algorithm}, not sha256: no logged "
                "release can be checked against it",
            )
        try:
            digests.append(base64.b64decode(value.split("?", 1)[0], validate=True))
        except (ValueError, binascii.Error):
            raise failure(
                None, None, f"the consumer page's integrity value of {script.path} is not base64"
            ) from None
    return digests


def check_script(script: PageScript, body: bytes, releases: Mapping[tuple[str, str], int]) -> None:
    """The script served must be a logged release under its name, and the one its integrity
    value names (else a browser refuses it: the page would not verify anything)."""
    named = _sha256_values(script)
    digest = hashlib.sha256(body).digest()
    if (script.name, digest.hex()) not in releases:
        raise failure(
            None,
            None,
            f"the consumer page's script {script.path} (sha256 {digest.hex()}) is not a "
            "logged release",
        )
    if digest not in named:
        raise failure(
            None,
            None,
            f"the consumer page's script {script.path} (sha256 {digest.hex()}) is not the one "
            f"its integrity value {script.integrity} names",
        )


def check_page_scripts(
    scripts: Sequence[PageScript],
    inline: int,
    csp: str | None,
    releases: Mapping[tuple[str, str], int],
) -> None:
    """The page as a whole: it loads a script, has no inline one, and its ``script-src``
    admits only hashes of logged releases (each script's body is ``check_script``'s)."""
    if not scripts:
        raise failure(None, None, "the consumer page loads no script: nothing verifies it")
    if inline:
        raise failure(None, None, "the consumer page carries an inline script, not a release")
    directive = next(
        (
            d.strip().split()[1:]
            for d in (csp or "").split(";")
            if d.strip().split()[:1] == ["script-src"]
        ),
        None,
    )
    if directive is None:
        raise failure(
            None,
            None,
            "the consumer page has no Content-Security-Policy script-src: it may run any script",
        )
    logged = {sha256 for _, sha256 in releases}
    for source in directive:
        value = source.strip("'")
        if not value.startswith("sha256-"):
            raise failure(
                None,
                None,
                f"the consumer page's script-src admits {source}, not only logged releases",
            )
        try:
            digest = base64.b64decode(value.removeprefix("sha256-"), validate=True).hex()
        except (ValueError, binascii.Error):
            raise failure(None, None, f"the consumer page's script-src has {source}") from None
        if digest not in logged:
            raise failure(
                None,
                None,
                f"the consumer page's script-src admits a script (sha256 {digest}) that is "
                "not a logged release",
            )


def check_witness_policy(
    policies: Sequence[tuple[int, WitnessPolicy]], note: str, now: int | None = None
) -> None:
    """The served checkpoint ``note`` against the latest logged witness policy, if any: its
    quorum met by valid cosignatures, and met again by those alone whose time is within the
    policy's ``max_age_seconds`` of ``now`` (the audit's own clock, POSIX seconds; default
    the system's), else the checkpoint is *not recently witnessed* (a witness that stopped
    cosigning, or a server replaying an old cosigned note, must not pass for a live one)."""
    if not policies:
        return
    index, record = policies[-1]
    try:
        policy = parse_policy(record.policy)
        witnessed = verify_witnessed(policy, note)
    except (InvalidInput, VerificationError) as exc:
        raise failure(
            None,
            None,
            f"the checkpoint does not satisfy the witness policy logged at index {index}: "
            f"{exc.detail}",
        ) from None
    clock = int(time.time()) if now is None else now
    fresh = {
        name
        for name, cosignature in witnessed.cosignatures.items()
        if clock - cosignature.timestamp <= record.max_age_seconds
    }
    if not policy.satisfied_by(fresh):
        ages = (
            ", ".join(
                f"{name} {clock - c.timestamp} s ago"
                for name, c in sorted(witnessed.cosignatures.items())
            )
            or "none"
        )
        raise failure(
            None,
            None,
            f"the checkpoint is not recently witnessed: the witness policy logged at index "
            f"{index} (quorum {policy.quorum}) wants cosignatures at most "
            f"{record.max_age_seconds} s old, and the checkpoint's are: {ages}",
        )
