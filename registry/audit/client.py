"""The registry over HTTP: the auditor's few reads, and the pipelined page fetcher.

The auditor reads only the public transparency-log endpoints (docs/audit.md, steps 1–3):
``/log/vkey`` (a C2SP signed-note verifier key), ``/log/checkpoint`` (a C2SP
tlog-checkpoint note), ``/log/entries`` (leaves and envelopes, a page at a time) and
``/log/proof/consistency`` (RFC 9162 §2.1.4 consistency proofs); and, to check what a
viewer's phone runs (steps 7 and 8), ``/api/v1/endorsements``, a consumer page ``/e/{code}``
and the scripts it loads. ``PageFetcher`` fetches the
next pages in a thread while the main thread stores and replays the current one.
"""

from __future__ import annotations

import base64
import binascii
import queue
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import httpx
import orjson

from registry.audit.failures import AuditError, failure
from registry.audit.mirror import MirrorRow
from registry.errors import RegistryError, VerificationError

PAGE_SIZE = 1000
"""Entries per ``/log/entries`` request: the server's page cap."""

HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
"""How long the auditor waits for the registry: 10 s to connect, 30 s for an answer."""


class RegistryClient:
    """The auditor's few reads: vkey, checkpoint, entries, consistency proofs, and what a
    viewer's phone is served (the endorsement list, a consumer page, its scripts).

    Transport failures and HTTP error statuses raise ``AuditError`` (exit 2); answers of the
    wrong shape raise ``VerificationError`` (the server says something that cannot be true).
    """

    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url
        self._http = httpx.Client(
            base_url=base_url,
            timeout=HTTP_TIMEOUT,
            transport=transport,
            headers={"User-Agent": "guarantee-registry-audit"},
        )

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http.close()

    def _get(self, path: str, params: dict[str, int] | None = None) -> httpx.Response:
        where = path if "://" in path else f"{self.base_url}{path}"
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise AuditError(f"cannot reach {where}: {exc}") from None
        if response.status_code != 200:
            raise AuditError(
                f"GET {where} answered HTTP {response.status_code}: {response.text[:200]}"
            )
        return response

    def _json(self, path: str, params: dict[str, int]) -> dict[str, Any]:
        response = self._get(path, params)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise failure(None, None, f"GET {path} did not answer a JSON object")
        return body

    def vkey(self) -> str:
        """The log's verifier key as served (C2SP signed-note vkey), for trust on first use."""
        return self._get("/log/vkey").text.strip()

    def checkpoint(self) -> str:
        """The latest checkpoint note (C2SP tlog-checkpoint), not yet verified."""
        return self._get("/log/checkpoint").text

    def entries(self, start: int, end: int) -> list[Any]:
        """The served entries ``[start, end)`` (possibly fewer), not yet checked."""
        body = self._json("/log/entries", {"start": start, "end": end})
        entries = body.get("entries")
        if not isinstance(entries, list):
            raise failure(None, None, "GET /log/entries did not answer a list of entries")
        return entries

    def endorsement_codes(self) -> list[str]:
        """The codes of the endorsements the registry lists (``/api/v1/endorsements``)."""
        try:
            body = orjson.loads(self._get("/api/v1/endorsements").content)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, list) or not all(
            isinstance(e, dict) and isinstance(e.get("code"), str) for e in body
        ):
            raise failure(None, None, "GET /api/v1/endorsements did not answer a list of codes")
        return [e["code"] for e in body]

    def page(self, path: str) -> tuple[str, str, str | None]:
        """A page as served: its URL, its HTML and its ``Content-Security-Policy``."""
        response = self._get(path)
        return str(response.url), response.text, response.headers.get("content-security-policy")

    def body(self, url: str) -> bytes:
        """The exact bytes served at ``url`` (a path, or an absolute URL)."""
        return self._get(url).content

    def consistency(self, old: int, new: int) -> list[bytes]:
        """The RFC 9162 §2.1.4 consistency proof between tree sizes ``old`` and ``new``."""
        body = self._json("/log/proof/consistency", {"old": old, "new": new})
        hashes = body.get("hashes")
        try:
            if not isinstance(hashes, list):
                raise TypeError
            return [base64.b64decode(h, validate=True) for h in hashes]
        except (TypeError, ValueError, binascii.Error):
            raise failure(None, None, "GET /log/proof/consistency answered no hashes") from None


def served_row(expected: int, entry: Any) -> MirrorRow | None:
    """The mirror row of a served entry, or None when it is not entry ``expected``."""
    if not isinstance(entry, dict) or entry.get("index") != expected:
        return None
    try:
        leaf = base64.b64decode(entry["leaf"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise failure(expected, None, "the server serves no valid base64 leaf") from None
    envelope = entry.get("envelope")
    return expected, leaf, None if envelope is None else orjson.dumps(envelope)


class FetchFailed(RegistryError):
    """The page thread's failure (network, malformed answer), carried to the main thread."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class PageFetcher:
    """Fetches ``[start, size)`` page by page in a thread, a few pages ahead of the reader.

    Iterating gives each page's mirror rows in order. A page that stops short of what the
    log must hold (a deleted record leaves a gap) ends the iteration, with ``gap`` saying
    where; a failure to fetch is raised to the reader as ``FetchFailed`` (docs/audit.md,
    step 3 and "Speed")."""

    AHEAD = 3  # pages fetched but not yet read

    def __init__(self, client: RegistryClient, start: int, size: int) -> None:
        self.client = client
        self.start_at, self.size = start, size
        self.gap: VerificationError | None = None
        self._pages: queue.Queue[list[MirrorRow] | Exception | None] = queue.Queue(self.AHEAD)
        self._stopping = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="audit-pages", daemon=True)

    def start(self) -> None:
        """Start fetching in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop fetching and wait (at most a request's timeout) for the thread to end."""
        self._stopping.set()
        self._thread.join(timeout=HTTP_TIMEOUT.read or 30)

    def __iter__(self) -> Iterator[list[MirrorRow]]:
        while not self._done:
            page = self._pages.get()
            if page is None:
                self._done = True
            elif isinstance(page, Exception):
                self._done = True
                raise FetchFailed(page)
            else:
                yield page

    def _put(self, item: list[MirrorRow] | Exception | None) -> bool:
        while not self._stopping.is_set():
            try:
                self._pages.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        start, size = self.start_at, self.size
        try:
            while start < size:
                end = min(start + PAGE_SIZE, size)
                entries = self.client.entries(start, end)[: end - start]
                rows = []
                for offset, entry in enumerate(entries):
                    row = served_row(start + offset, entry)
                    if row is None:
                        break
                    rows.append(row)
                start += len(rows)
                if rows and not self._put(rows):
                    return
                if len(rows) < len(entries) or not rows:
                    self.gap = failure(
                        start,
                        None,
                        f"the server does not serve entry {start} of a log of size {size} "
                        "(a deleted record leaves a gap)",
                    )
                    break
        except (AuditError, VerificationError) as exc:
            self._put(exc)
            return
        self._put(None)
