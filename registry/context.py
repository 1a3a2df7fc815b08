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
    settings: Settings
    master_key: bytes
    registry_signer: Signer
    log_signer: Signer
    clock: Callable[[], datetime] = field(default=utcnow)

    @property
    def log_origin(self) -> str:
        return self.settings.effective_log_origin
