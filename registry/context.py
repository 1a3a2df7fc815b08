"""What services need beyond a Session: settings, the master key and the server's signers.

Built once per process; the server keys are loaded (and in a fresh database created) by
``bootstrap``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from registry.crypto.keys import Signer
from registry.models import utcnow
from registry.settings import Settings


@dataclass
class RegistryContext:
    """The process-wide dependencies of the services: settings, the master key, the
    registry key (signs key records), the log key (signs checkpoints) and the log's origin
    (its name, as stored with the log), and the clock."""

    settings: Settings
    master_key: bytes
    registry_signer: Signer
    log_signer: Signer
    # The origin line of the log's checkpoints (c2sp.org/tlog-checkpoint), read from the
    # database: fixed when the log was created, whatever the base URL says now.
    log_origin: str
    clock: Callable[[], datetime] = field(default=utcnow)
