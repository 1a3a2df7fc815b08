"""The scripts the public pages run, as logged releases (docs/verification.md, "The page's
own code").

At start-up the server reads every script under ``/static/`` once (``page_scripts``); those
exact bytes are what it serves, what ``registry serve`` logs a ``script_release`` of, and
what the consumer page names with Subresource Integrity (``integrity="sha256-…"``) and
admits, by hash only, in its Content-Security-Policy. A script changed on disk while the
server runs is therefore refused by the browser until the next start logs its release.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from web.templating import STATIC_DIR, templates

CONSUMER_SCRIPTS = ("verify.js",)
"""The scripts the consumer page (``/e/{code}``) loads, in order; add one here and to the
template (``{{ script_tag("name.js") }}``) and its hash is admitted and logged."""


@lru_cache(maxsize=1)
def page_scripts() -> dict[str, bytes]:
    """Every script under ``/static/``, by file name, as read at first use (start-up)."""
    return {path.name: path.read_bytes() for path in sorted(STATIC_DIR.glob("*.js"))}


def integrity(name: str) -> str:
    """The Subresource Integrity value of script ``name``: ``sha256-<base64>``."""
    digest = hashlib.sha256(page_scripts()[name]).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def consumer_script_src() -> str:
    """The consumer page's CSP ``script-src``: exactly its scripts' hashes, nothing else."""
    return "script-src " + " ".join(f"'{integrity(name)}'" for name in CONSUMER_SCRIPTS)


templates.globals.update(script_integrity=integrity)
