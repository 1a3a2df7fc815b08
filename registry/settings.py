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

from pydantic import field_validator
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
    page_size_max: int = 500
    # C2SP tlog-witnesses asked to cosign every checkpoint: a JSON list of "URL VKEY", URL the
    # witness's submission prefix (add-checkpoint is under it), VKEY its cosignature vkey.
    witnesses: list[str] = []
    # A c2sp.org/tlog-policy file: which witness keys count and how many must cosign. Empty:
    # generated from the log key and ``witnesses`` (docs/verification.md, "Witness policy").
    witness_policy: str = ""
    # How old a cosignature may be for a viewer's phone to call the checkpoint recently
    # witnessed (tlog-policy has no freshness; logged with the policy).
    witness_max_age_seconds: int = 3600

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

    def master_key_bytes(self) -> bytes:
        """The master key, loaded or (development only) generated into the data dir."""
        if self.master_key:
            return _decode_master_key(self.master_key)
        if self.mode is Mode.PRODUCTION:
            raise ConfigurationError(
                "REGISTRY_MASTER_KEY is required in production mode "
                "(32 random bytes, base64); refusing to generate or default one"
            )
        path = self.data_dir / MASTER_KEY_FILE
        if not path.exists():
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
