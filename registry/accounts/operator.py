"""The registry operator: the organization that runs the registry and holds its keys.

``bootstrap`` creates it in a fresh database under these names; the verification document
names it as the holder of the registry key (docs/records.md: log index 0 is the registry key
registering itself).
"""

from __future__ import annotations

OPERATOR_NAME_ZH = "担保登记处运营方"
"""The operator's name in Chinese."""

OPERATOR_NAME_EN = "Guarantee Registry operator"
"""The operator's name in English."""

OPERATOR_REGION = "110000"
"""The operator's GB/T 2260 region code (Beijing)."""
