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
FALLBACK_SCRIPTS = ("noble.js",)
"""Scripts verify.js adds itself, with the SRI value it pins, only where the browser needs
them (``/static/vendor/noble.js``: Ed25519 where WebCrypto has none); admitted by hash too."""


@lru_cache(maxsize=1)
def page_scripts() -> dict[str, bytes]:
    """Every script under ``/static/``, by file name, as read at first use (start-up)."""
    paths = sorted(STATIC_DIR.glob("*.js")) + sorted(STATIC_DIR.glob("vendor/*.js"))
    return {path.name: path.read_bytes() for path in paths}


def integrity(name: str) -> str:
    """The Subresource Integrity value of script ``name``: ``sha256-<base64>``."""
    digest = hashlib.sha256(page_scripts()[name]).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def consumer_script_src() -> str:
    """The consumer page's CSP ``script-src``: exactly its scripts' hashes, nothing else."""
    names = CONSUMER_SCRIPTS + FALLBACK_SCRIPTS
    return "script-src " + " ".join(f"'{integrity(name)}'" for name in names)


templates.globals.update(script_integrity=integrity)
