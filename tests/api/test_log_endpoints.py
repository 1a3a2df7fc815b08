"""The log's read side over HTTP: checkpoints, inclusion and consistency proofs, entries.

Proofs are verified the way an auditor or a phone would: with ``registry.log.merkle`` against
roots taken from signed checkpoints, for leaves taken from ``/log/entries``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from registry.errors import VerificationError
from registry.log import merkle
from registry.log.note import Checkpoint, open_checkpoint, parse_vkey
from tests.api.conftest import (
    World,
    assert_problem,
    inspection,
    packing,
    payload_of,
)


class GrownLog:
    """A world after a few more records, with the root of every checkpoint seen on the way."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.roots: dict[int, bytes] = {}
        self.notes: dict[int, str] = {}
        self.seen()

    def seen(self) -> None:
        note = self.world.client.get("/log/checkpoint").text
        checkpoint = Checkpoint.parse(note.partition("\n\n")[0] + "\n")
        self.roots[checkpoint.size] = checkpoint.root_hash
        self.notes[checkpoint.size] = note

    @property
    def size(self) -> int:
        return max(self.roots)

    def leaf(self, index: int) -> bytes:
        entries = self.world.client.get(
            "/log/entries", params={"start": index, "end": index + 1}
        ).json()["entries"]
        assert [e["index"] for e in entries] == [index], f"/log/entries gave {entries}"
        return base64.b64decode(entries[0]["leaf"])


@pytest.fixture
def grown(world: World) -> GrownLog:
    log = GrownLog(world)
    coop, lab = world.coop, world.lab
    for lot in ("LOG-1", "LOG-2", "LOG-3"):
        batch, head = world.harvested(coop, lot)
        log.seen()
        if lot == "LOG-1":
            head = world.submit(coop, packing(coop.org_id, batch, head))["digest"]
            log.seen()
            head = world.assigned(coop, batch, head, lab, "inspection")
            log.seen()
            world.submit(lab, inspection(lab.org_id, batch, head))
            log.seen()
    # Each submission appends its record and the status index after it.
    assert log.size == 2 * (len(log.roots) - 1) + min(log.roots), "a checkpoint was skipped"
    return log


def _inclusion(world: World, index: int, size: int) -> list[bytes]:
    response = world.client.get("/log/proof/inclusion", params={"index": index, "tree_size": size})
    assert response.status_code == 200, f"inclusion proof {index}@{size}: {response.text}"
    body = response.json()
    assert (body["index"], body["tree_size"]) == (index, size), body
    return [base64.b64decode(h) for h in body["hashes"]]


def _consistency(world: World, old: int, new: int) -> list[bytes]:
    response = world.client.get("/log/proof/consistency", params={"old": old, "new": new})
    assert response.status_code == 200, f"consistency proof {old}->{new}: {response.text}"
    body = response.json()
    assert (body["old_size"], body["new_size"]) == (old, new), body
    return [base64.b64decode(h) for h in body["hashes"]]


def test_checkpoints_are_signed_by_the_published_log_key(grown: GrownLog) -> None:
    vkey = grown.world.client.get("/log/vkey")
    assert vkey.status_code == 200, vkey.text
    verifier = parse_vkey(vkey.text.strip())
    for size, note in grown.notes.items():
        checkpoint, _ = open_checkpoint(note, [verifier])
        assert checkpoint.size == size and checkpoint.root_hash == grown.roots[size], (
            f"the signed checkpoint of size {size} says something else"
        )


def test_checkpoint_size_counts_the_records(grown: GrownLog) -> None:
    listed = grown.world.client.get("/api/v1/records", params={"limit": 500}).json()["items"]
    assert [r["index"] for r in listed] == list(range(grown.size)), (
        "log indices are not 0-based and contiguous up to the checkpoint size"
    )


def test_every_leaf_is_included_in_every_checkpoint_that_covers_it(grown: GrownLog) -> None:
    world = grown.world
    leaves = [grown.leaf(i) for i in range(grown.size)]
    for size, root in grown.roots.items():
        for index in range(size):
            proof = _inclusion(world, index, size)
            try:
                merkle.verify_inclusion(merkle.leaf_hash(leaves[index]), index, size, proof, root)
            except VerificationError as exc:
                pytest.fail(f"inclusion proof of leaf {index} in tree {size} fails: {exc}")


def test_a_proof_for_another_leaf_does_not_verify(grown: GrownLog) -> None:
    size, root = grown.size, grown.roots[grown.size]
    proof = _inclusion(grown.world, 3, size)
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(merkle.leaf_hash(grown.leaf(4)), 3, size, proof, root)
    flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(merkle.leaf_hash(grown.leaf(3)), 3, size, flipped, root)


def test_leaves_commit_to_payload_and_signatures(grown: GrownLog) -> None:
    entries = grown.world.client.get("/log/entries", params={"start": 0, "end": grown.size}).json()[
        "entries"
    ]
    assert [e["index"] for e in entries] == list(range(grown.size))
    for entry in entries:
        leaf = json.loads(base64.b64decode(entry["leaf"]))
        payload = payload_of(entry["envelope"])
        assert leaf["payload_sha256"] == hashlib.sha256(payload).hexdigest() == entry["digest"], (
            f"leaf {entry['index']} commits to another payload"
        )
        assert leaf["signatures"] == entry["envelope"]["signatures"], (
            f"leaf {entry['index']} commits to other signatures"
        )
        assert leaf["kind"] == entry["kind"] and leaf["v"] == 1


def test_consistency_between_every_pair_of_checkpoints(grown: GrownLog) -> None:
    sizes = sorted(grown.roots)
    for old in sizes:
        for new in sizes:
            if new < old:
                continue
            proof = _consistency(grown.world, old, new)
            try:
                merkle.verify_consistency(old, new, proof, grown.roots[old], grown.roots[new])
            except VerificationError as exc:
                pytest.fail(f"consistency proof {old} -> {new} fails: {exc}")
    with pytest.raises(VerificationError):
        proof = _consistency(grown.world, sizes[0], sizes[-1])
        merkle.verify_consistency(
            sizes[0], sizes[-1], proof, grown.roots[sizes[1]], grown.roots[sizes[-1]]
        )


def test_entries_end_is_exclusive_and_clipped_to_the_log(grown: GrownLog) -> None:
    client = grown.world.client
    page = client.get("/log/entries", params={"start": 2, "end": 5}).json()["entries"]
    assert [e["index"] for e in page] == [2, 3, 4], "end must be exclusive"
    tail = client.get("/log/entries", params={"start": grown.size - 2, "end": 10**6})
    assert tail.status_code == 200, tail.text
    assert [e["index"] for e in tail.json()["entries"]] == [grown.size - 2, grown.size - 1]
    beyond = client.get("/log/entries", params={"start": grown.size + 5, "end": grown.size + 9})
    assert beyond.status_code in (200, 422), f"entries past the end: {beyond.text}"
    if beyond.status_code == 200:
        assert beyond.json()["entries"] == [], "entries past the end of the log"


def test_entries_are_the_records_the_api_lists(grown: GrownLog) -> None:
    """``/log/entries`` is written straight from the columns; it must say exactly what the
    records API (through ``RecordOut``) says about each record."""
    client = grown.world.client
    listed = client.get("/api/v1/records", params={"limit": 500}).json()["items"]
    page = client.get("/log/entries", params={"start": 0, "end": grown.size})
    assert page.headers["content-type"] == "application/json"
    assert page.json()["entries"] == listed


OUT_OF_RANGE: list[tuple[str, dict[str, Any]]] = [
    ("/log/proof/inclusion", {"index": -1, "tree_size": 3}),
    ("/log/proof/inclusion", {"index": 0, "tree_size": 0}),
    ("/log/proof/inclusion", {"index": 5, "tree_size": 5}),
    ("/log/proof/inclusion", {"index": 0, "tree_size": "SIZE+1"}),
    ("/log/proof/inclusion", {"index": 2**70, "tree_size": 3}),
    ("/log/proof/inclusion", {"index": 0, "tree_size": 2**70}),
    ("/log/proof/inclusion", {"index": "x", "tree_size": 3}),
    ("/log/proof/inclusion", {"tree_size": 3}),
    ("/log/proof/consistency", {"old": 0, "new": 3}),
    ("/log/proof/consistency", {"old": 4, "new": 3}),
    ("/log/proof/consistency", {"old": 1, "new": "SIZE+1"}),
    ("/log/proof/consistency", {"old": 1, "new": 2**70}),
    ("/log/proof/consistency", {"old": -5, "new": -1}),
    ("/log/proof/consistency", {"old": 1}),
    ("/log/entries", {"start": -1, "end": 3}),
    ("/log/entries", {"start": 3, "end": 3}),
    ("/log/entries", {"start": 5, "end": 2}),
    ("/log/entries", {"start": 0, "end": 0}),
    ("/log/entries", {"start": 0, "end": "ten"}),
]


def test_out_of_range_parameters_are_422_never_500(world: World) -> None:
    size = world.log_size()
    client = world.lenient_client()
    wrong = []
    for path, params in OUT_OF_RANGE:
        resolved = {k: size + 1 if v == "SIZE+1" else v for k, v in params.items()}
        response = client.get(path, params=resolved)
        try:
            assert_problem(response, 422, "invalid-input")
        except AssertionError as exc:
            wrong.append(f"{path} {resolved}: {str(exc).splitlines()[0]}")
    assert not wrong, "out-of-range parameters not refused with 422:\n" + "\n".join(wrong)


def test_entries_start_beyond_any_index_is_not_a_500(world: World) -> None:
    response = world.lenient_client().get("/log/entries", params={"start": 2**70, "end": 2**70 + 1})
    assert response.status_code in (200, 422), (
        f"a huge start gave {response.status_code}: {response.text[:200]}"
    )


def test_record_index_beyond_any_index_is_404(world: World) -> None:
    response = world.lenient_client().get(f"/api/v1/records/{2**64}")
    assert_problem(response, 404, "not-found")


@pytest.mark.parametrize(
    ("path", "cursor_value"), [("/api/v1/records", "x"), ("/api/v1/batches", 5)]
)
def test_forged_cursor_is_422(world: World, path: str, cursor_value: object) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps(cursor_value).encode()).decode().rstrip("=")
    response = world.lenient_client().get(path, params={"cursor": cursor})
    assert_problem(response, 422, "invalid-input")
