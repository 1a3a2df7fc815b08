"""The status index rebuilt from the log alone, and every committed root compared with it
(docs/audit.md; the index: docs/records.md, "The status index").

``registry audit`` (its replay) and ``registry check`` feed every entry in log order to a
``StatusRebuild``. It derives each key's value from the records themselves, not from the
server's tables: an endorsement and its revocation from their records, a batch's head from
the records naming it, a recall's reach through the processing records' inputs and
outputs. At each ``status_index`` record it computes the root of the keys so far and
refuses a record whose ``size``, ``root`` or ``keys`` differs, naming the first key changed
since the last root that matched. It keeps the values, the tree's nodes and the lineage:
memory grows with the number of keys, not with the log.
"""

from __future__ import annotations

import base64
from typing import Any

from registry.audit.failures import failure
from registry.crypto.jcs import canonicalize
from registry.log import status_index as si
from registry.records.schema import (
    Endorsement,
    EndorsementRevocation,
    Kind,
    Processing,
    Recall,
    StatusIndex,
)


class StatusRebuild:
    """The status index as the log builds it, checked at each ``status_index`` record."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}
        self.heads = 0  # status_index records checked
        self.last_head: int | None = None  # log index of the last one
        self.blind_from: int | None = None  # first erased payload: nothing is derivable after
        self._store = si.MemoryNodeStore()
        self._pending: dict[str, str] = {}  # key -> value text, changed since the last head
        self._children: dict[str, list[str]] = {}
        self.changed: set[str] = set()  # keys changed since whoever reads this cleared it

    def apply(self, index: int, record: Any) -> None:
        """Add the log entry at ``index`` (its parsed record); ``VerificationError`` at a
        ``status_index`` record that is not the index of the entries before it."""
        if isinstance(record, StatusIndex):
            self._commit(index, record)
        elif isinstance(record, Endorsement):
            self._change(si.endorsement_key(record.code), ("endorsement", index))
        elif isinstance(record, EndorsementRevocation):
            self._change(si.endorsement_key(record.code), ("revocation", index))
        elif hasattr(record, "batches") and hasattr(record, "prev"):  # the supply chain
            for ref in record.batches:
                self._change(si.batch_key(ref), ("head", index))
            if isinstance(record, Processing):
                outputs = [o.batch for o in record.outputs]
                for consumed in record.inputs:
                    self._children.setdefault(consumed.batch, []).extend(outputs)
            if isinstance(record, Recall):
                for ref in sorted(self._reach(record.batches)):
                    self._change(si.batch_key(ref), ("recall", index))

    def erased(self, index: int) -> None:
        """The payload at ``index`` is erased: what it changed cannot be known, so no root
        after it is compared."""
        if self.blind_from is None:
            self.blind_from = index

    def root(self) -> bytes:
        """The root of every key so far (applies the pending changes)."""
        root = self._store.apply(self._pending)
        self._pending = {}
        return root

    def _change(self, key: str, change: tuple[str, int]) -> None:
        value = si.next_value(self.values.get(key), change)
        self.values[key] = value
        self._pending[key] = canonicalize(value).decode()
        self.changed.add(key)

    def _reach(self, refs: list[str]) -> set[str]:
        pending, seen = list(refs), set(refs)
        while pending:
            for child in self._children.get(pending.pop(), []):
                if child not in seen:
                    seen.add(child)
                    pending.append(child)
        return seen

    def _commit(self, index: int, record: StatusIndex) -> None:
        changed = list(self._pending)
        kind = Kind.STATUS_INDEX.value
        if record.size != index:
            raise failure(
                index,
                kind,
                f"the status index at log index {index} says size {record.size}: it must be "
                "its own index (it covers every entry before it)",
            )
        root = self.root()
        self.heads += 1
        last, self.last_head = self.last_head, index
        if self.blind_from is not None:
            return
        since = "the start of the log" if last is None else f"the status index at {last}"
        first = f"; the first key changed since {since} is {changed[0]!r}" if changed else ""
        if base64.b64encode(root).decode() != record.root:
            raise failure(
                index,
                kind,
                f"the status index at log index {index} (checkpoint {index + 1}) commits to "
                f"root {record.root}, but the log's entries give "
                f"{base64.b64encode(root).decode()}{first}",
            )
        if record.keys != len(self.values):
            raise failure(
                index,
                kind,
                f"the status index at log index {index} (checkpoint {index + 1}) counts "
                f"{record.keys} keys, but the log's entries give {len(self.values)}",
            )

    def check_checkpoint(self, size: int, last_kind: str | None) -> None:
        """Once the log has a status index, the last entry of every checkpoint is one."""
        if self.heads and size > 0 and last_kind != Kind.STATUS_INDEX.value:
            raise failure(
                size - 1,
                last_kind,
                f"the checkpoint of size {size} does not end with a status_index record: "
                "entries newer than the last status index could hide in it",
            )
