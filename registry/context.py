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
    registry key (signs key records) and the log key (signs checkpoints), and the clock."""

    settings: Settings
    master_key: bytes
    registry_signer: Signer
    log_signer: Signer
    clock: Callable[[], datetime] = field(default=utcnow)

    @property
    def log_origin(self) -> str:
        """The origin line of the log's checkpoints (c2sp.org/tlog-checkpoint)."""
        return self.settings.effective_log_origin
