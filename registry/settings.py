"""One settings object, read from the environment with the ``REGISTRY_`` prefix.

Safe defaults for a laptop (development mode: SQLite under ./registry-data, a master key
generated into the data dir). Production mode refuses to start without an explicit master key
and refuses a development-generated one.
"""

from __future__ import annotations

import base64
import os
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry.errors import ConfigurationError, InvalidInput
from registry.log.note import parse_cosignature_vkey

MASTER_KEY_FILE = "master.key"
"""File in the data dir holding a development-mode master key (base64, mode 0600)."""


class Mode(StrEnum):
    """``REGISTRY_MODE``: development (laptop defaults, demo allowed) or production."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every setting, each read from ``REGISTRY_<NAME>``; README.md (Settings) explains the
    common ones."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    mode: Mode = Mode.DEVELOPMENT
    data_dir: Path = Path("registry-data")
    database_url: str = ""
    base_url: str = "http://127.0.0.1:8000"
    # The log's C2SP origin line. It names a new log (derived from the base URL when empty)
    # and is then stored with it: a later value must match the stored one.
    log_origin: str = ""
    # 32 bytes, standard base64. Encrypts custodial private keys (and the log key) at rest.
    master_key: str = ""
    max_body_bytes: int = 256 * 1024
    # The paths that take a problem report, which may carry a guarantee bundle (at most 1 MiB
    # of JSON, percent-encoded by the page's form): registry.reports.problems.REPORT_PATHS.
    max_report_body_bytes: int = 3 * 1024 * 1024 + 64 * 1024
    # The EPCIS capture path (docs/epcis.md, "The capture interface"): a document of 10,000
    # events (GS1-EPCIS-Capture-Limit) of the third-party corpus's mean size as published
    # (about 2 KB an event) fits, with room for larger ones.
    max_capture_bytes: int = 32 * 1024 * 1024
    # Each server process runs the asynchronous capture jobs (``Prefer: respond-async``) of
    # the database, its own and those a stopped process left, looking every interval (s).
    capture_worker: bool = True
    capture_poll_interval: float = 2.0
    # A job whose run never finishes (its process dies in it each time, out of memory say)
    # is marked failed once it has been attempted this many times, rather than run forever.
    capture_max_attempts: int = Field(default=3, ge=1)
    page_size_max: int = 500
    # C2SP tlog-witnesses asked to cosign every checkpoint: a JSON list of "URL VKEY", URL the
    # witness's submission prefix (add-checkpoint is under it), VKEY its cosignature vkey.
    witnesses: list[str] = []
    # The server's background check of its own database (registry.audit.monitor): on by
    # default; new entries every interval (seconds), everything again every full interval.
    integrity_check: bool = True
    integrity_interval: float = 30.0
    integrity_full_interval: float = 6 * 3600.0
    # A c2sp.org/tlog-policy file: which witness keys count and how many must cosign. Empty:
    # generated from the log key and ``witnesses`` (docs/verification.md, "Witness policy").
    witness_policy: str = ""
    # How old a cosignature may be for a viewer's phone to call the checkpoint recently
    # witnessed (tlog-policy has no freshness; logged with the policy).
    witness_max_age_seconds: int = 3600
    # The TrueType CJK font (.ttf, or .ttc with "#index") the 合格证 PDF embeds; empty: the
    # first of registry.exports.certificate_pdf.KNOWN_FONTS found (fonts-wqy-microhei).
    cjk_font: str = ""
    # Publishing (docs/scaling.md): the directory (or s3://bucket/prefix) each worker keeps
    # the published scan files in (``registry serve --publish``), and the web server's scan
    # log whose lines are counted as scans (deploy/nginx.conf).
    publish_dir: str = ""
    scan_log: str = ""

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("witnesses")
    @classmethod
    def _check_witnesses(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                parse_witness_entry(entry)
            except ConfigurationError as exc:
                raise ValueError(exc.detail) from None
        return value

    @property
    def effective_database_url(self) -> str:
        """``database_url``, or a SQLite file ``registry.db`` in the data dir when it is empty."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'registry.db').resolve()}"

    @property
    def new_log_origin(self) -> str:
        """The origin a log created now takes: ``log_origin``, or the base URL without its
        scheme plus ``/log`` (C2SP tlog-checkpoint: the origin SHOULD be a schema-less URL
        naming the log). Only read when the log is created; the stored origin rules after."""
        if self.log_origin:
            return self.log_origin
        parts = urlsplit(self.base_url)
        return f"{parts.netloc}{parts.path}/log"

    def configured_master_key(self) -> bytes | None:
        """The master key if one is configured (``REGISTRY_MASTER_KEY``, or in development
        the data dir's key file), else None; never generates one. Production refuses a
        missing key and a low-entropy one (``check_master_key_entropy``)."""
        if self.master_key:
            key = _decode_master_key(self.master_key)
            if self.mode is Mode.PRODUCTION:
                check_master_key_entropy(key)
            return key
        if self.mode is Mode.PRODUCTION:
            raise ConfigurationError(
                "REGISTRY_MASTER_KEY is required in production mode "
                "(32 random bytes, base64); refusing to generate or default one"
            )
        path = self.data_dir / MASTER_KEY_FILE
        if not path.exists():
            return None
        return _decode_master_key(path.read_text().strip())

    def master_key_bytes(self) -> bytes:
        """The master key, loaded or (development only) generated into the data dir.

        Generate only for a registry that holds no sealed key yet (``bootstrap`` asks
        ``configured_master_key`` otherwise): a new key cannot open the old ones."""
        key = self.configured_master_key()
        if key is not None:
            return key
        path = self.data_dir / MASTER_KEY_FILE
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two workers starting at once must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        return _decode_master_key(path.read_text().strip())

    def missing_master_key(self) -> ConfigurationError:
        """The refusal when a database holds sealed keys and no master key is configured."""
        return ConfigurationError(
            "this database holds keys sealed under a master key, and no master key is "
            "configured: set REGISTRY_MASTER_KEY or put the registry's master.key back into "
            f"{self.data_dir}; refusing to generate a new one, which could not open them"
        )


MASTER_KEY_DISTINCT_BYTES_MIN = 16
"""Production refuses a master key with fewer distinct byte values among its 32 bytes.

32 random bytes hold about 30 distinct values; fewer than 16 happens by chance with
probability below 10^-20, but is what a typed, repeated or patterned key looks like
(all zeros, ``0123…`` repeated, one word written twice)."""


def check_master_key_entropy(key: bytes) -> None:
    """Refuse (``ConfigurationError``) a master key that was not drawn at random: all bytes
    equal, or fewer than ``MASTER_KEY_DISTINCT_BYTES_MIN`` distinct byte values."""
    distinct = len(set(key))
    if distinct == 1:
        raise ConfigurationError(
            "REGISTRY_MASTER_KEY is one byte repeated (e.g. all zeros); production needs "
            "32 random bytes, e.g. from: openssl rand -base64 32"
        )
    if distinct < MASTER_KEY_DISTINCT_BYTES_MIN:
        raise ConfigurationError(
            f"REGISTRY_MASTER_KEY has only {distinct} distinct byte values of 32 (at least "
            f"{MASTER_KEY_DISTINCT_BYTES_MIN} expected of random bytes); production needs "
            "32 random bytes, e.g. from: openssl rand -base64 32"
        )


def parse_witness_entry(entry: str) -> tuple[str, str]:
    """Split a ``REGISTRY_WITNESSES`` entry ``"URL VKEY"`` into ``(url, vkey)``.

    The URL is an http(s) submission prefix (trailing slash dropped); the vkey must parse
    as a tlog-cosignature (type 0x04) verifier key. Raises ``ConfigurationError``.
    """
    parts = entry.split()
    if len(parts) != 2:
        raise ConfigurationError(f"witness entry {entry!r} is not 'URL VKEY'")
    url, witness_vkey = parts
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigurationError(f"witness URL {url!r} is not an http(s) URL")
    try:
        parse_cosignature_vkey(witness_vkey)
    except InvalidInput as exc:
        raise ConfigurationError(f"witness vkey {witness_vkey!r}: {exc.detail}") from None
    return url.rstrip("/"), witness_vkey


def _decode_master_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ConfigurationError("REGISTRY_MASTER_KEY is not valid base64") from exc
    if len(key) != 32:
        raise ConfigurationError("REGISTRY_MASTER_KEY must decode to exactly 32 bytes")
    return key


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
