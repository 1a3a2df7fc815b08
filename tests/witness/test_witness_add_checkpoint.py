"""``Witness.add_checkpoint`` against c2sp.org/tlog-witness, one test per status it requires.

Logs are built in memory (``MemoryNodeStore``) and signed with a throwaway log key whose
name is the origin; request bodies are written out by hand here, so these tests pin the wire
format independently of the registry's own client.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import threading
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.witness import create_witness_app
from registry.errors import ConfigurationError
from registry.log.merkle import MemoryNodeStore, consistency_proof, leaf_hash
from registry.log.note import (
    Checkpoint,
    NoteSigner,
    open_cosignature,
    parse_cosignature_vkey,
    sign_checkpoint,
)
from registry.transparency.witness import (
    MAX_REQUEST_SIZE,
    CheckpointConflict,
    InconsistentCheckpoint,
    MalformedRequest,
    SignatureNotVerified,
    UnknownLog,
    Witness,
    WitnessError,
)

ORIGIN = "registry.example/log"
NOW = 1_790_000_000


class Log:
    """An in-memory log whose leaves are derived from a label, so two labels fork."""

    def __init__(self, signer: NoteSigner, label: str = "main") -> None:
        self.signer = signer
        self.label = label
        self.store = MemoryNodeStore()

    def grow(self, size: int) -> Log:
        while self.store.size < size:
            data = f"{self.label}:{self.store.size}".encode()
            self.store.append(leaf_hash(hashlib.sha256(data).digest()))
        return self

    def checkpoint(self, size: int, signer: NoteSigner | None = None) -> str:
        body = Checkpoint(ORIGIN, size, self.store.root(size))
        return sign_checkpoint(body, signer or self.signer)

    def proof(self, old: int, new: int) -> list[bytes]:
        return consistency_proof(old, new, self.store)


def request(old: int, proof: list[bytes], note: str) -> bytes:
    """tlog-witness §add-checkpoint body: old line, proof lines, blank line, checkpoint."""
    lines = [f"old {old}\n"] + [base64.b64encode(h).decode() + "\n" for h in proof]
    return ("".join(lines) + "\n" + note).encode()


@pytest.fixture
def log_signer() -> NoteSigner:
    return NoteSigner.generate(ORIGIN)


@pytest.fixture
def log(log_signer: NoteSigner) -> Log:
    return Log(log_signer).grow(20)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "witness"


@pytest.fixture
def witness(state_dir: Path, log_signer: NoteSigner) -> Witness:
    return Witness(state_dir, "witness.test", [log_signer.to_vkey()], clock=lambda: NOW)


def cosign(witness: Witness, log: Log, old: int, new: int) -> str:
    response = witness.add_checkpoint(request(old, log.proof(old, new), log.checkpoint(new)))
    return response.decode()


def known(witness: Witness) -> tuple[int, bytes] | None:
    state = witness.cosigned().get(ORIGIN)
    return None if state is None else (state.size, state.root_hash)


# --- 200 ---------------------------------------------------------------------------------------


def test_first_checkpoint_from_old_size_zero_is_cosigned(witness: Witness, log: Log) -> None:
    response = cosign(witness, log, 0, 5)
    assert response.startswith("— witness.test ") and response.endswith("\n")
    assert response.count("\n") == 1, f"expected one cosignature line, got {response!r}"
    text = Checkpoint(ORIGIN, 5, log.store.root(5)).to_text()
    cosignature = open_cosignature(text, response, parse_cosignature_vkey(witness.vkey))
    assert cosignature.timestamp == NOW, "the cosignature timestamp must come from the clock"
    assert known(witness) == (5, log.store.root(5))


def test_consistent_update_is_cosigned_and_recorded(witness: Witness, log: Log) -> None:
    cosign(witness, log, 0, 5)
    for old, new in [(5, 9), (9, 16), (16, 20)]:
        line = cosign(witness, log, old, new)
        text = Checkpoint(ORIGIN, new, log.store.root(new)).to_text()
        open_cosignature(text, line, parse_cosignature_vkey(witness.vkey))
        assert known(witness) == (new, log.store.root(new)), f"state not moved to {new}"


def test_same_checkpoint_again_is_cosigned_again(witness: Witness, log: Log) -> None:
    cosign(witness, log, 0, 7)
    line = cosign(witness, log, 7, 7)
    open_cosignature(
        Checkpoint(ORIGIN, 7, log.store.root(7)).to_text(),
        line,
        parse_cosignature_vkey(witness.vkey),
    )
    assert known(witness) == (7, log.store.root(7))


def test_signatures_from_unknown_keys_are_ignored(witness: Witness, log: Log) -> None:
    other = NoteSigner.generate("someone.else")
    note = log.checkpoint(3)
    text = note[: note.rfind("\n\n") + 1]
    note += other.signature_line(text)
    witness.add_checkpoint(request(0, [], note))
    assert known(witness) == (3, log.store.root(3))


# --- 409 ---------------------------------------------------------------------------------------


def test_stale_old_size_is_409_with_the_known_size(witness: Witness, log: Log) -> None:
    cosign(witness, log, 0, 9)
    for old in (0, 5, 12):
        with pytest.raises(CheckpointConflict) as refused:
            cosign(witness, log, old, 16)
        assert refused.value.status == 409
        assert refused.value.known_size == 9, f"old {old}: the body must name size 9"
    assert known(witness) == (9, log.store.root(9)), "a refused request changed the state"


def test_same_size_with_another_root_is_409(
    witness: Witness, log: Log, log_signer: NoteSigner
) -> None:
    cosign(witness, log, 0, 9)
    fork = Log(log_signer, "fork").grow(9)
    with pytest.raises(CheckpointConflict) as refused:
        witness.add_checkpoint(request(9, [], fork.checkpoint(9)))
    assert refused.value.known_size is None, "a root mismatch carries no size to retry from"
    assert known(witness) == (9, log.store.root(9))


# --- 422 ---------------------------------------------------------------------------------------


def test_bad_consistency_proof_is_422(witness: Witness, log: Log) -> None:
    cosign(witness, log, 0, 6)
    proof = log.proof(6, 13)
    proof[0] = hashlib.sha256(b"not the node").digest()
    with pytest.raises(InconsistentCheckpoint) as refused:
        witness.add_checkpoint(request(6, proof, log.checkpoint(13)))
    assert refused.value.status == 422
    assert known(witness) == (6, log.store.root(6))


def test_nonempty_proof_from_size_zero_is_422(witness: Witness, log: Log) -> None:
    with pytest.raises(InconsistentCheckpoint):
        witness.add_checkpoint(request(0, log.proof(4, 8), log.checkpoint(8)))
    assert known(witness) is None


def test_split_view_is_refused_and_the_state_is_unchanged(
    witness: Witness, log: Log, log_signer: NoteSigner, state_dir: Path
) -> None:
    """The log shows the witness tree A, then a larger tree B that does not extend A."""
    cosign(witness, log, 0, 8)
    before = (state_dir / "logs.json").read_bytes()
    fork = Log(log_signer, "fork").grow(15)
    with pytest.raises(InconsistentCheckpoint):
        witness.add_checkpoint(request(8, fork.proof(8, 15), fork.checkpoint(15)))
    assert (state_dir / "logs.json").read_bytes() == before, "a refused fork touched the state"
    assert known(witness) == (8, log.store.root(8))
    # The honest continuation is still accepted.
    cosign(witness, log, 8, 15)


# --- 404, 403 ----------------------------------------------------------------------------------


def test_unknown_origin_is_404(witness: Witness) -> None:
    stranger = NoteSigner.generate("elsewhere.example/log")
    note = sign_checkpoint(Checkpoint("elsewhere.example/log", 1, b"\x01" * 32), stranger)
    with pytest.raises(UnknownLog) as refused:
        witness.add_checkpoint(request(0, [], note))
    assert refused.value.status == 404


def test_checkpoint_signed_by_another_key_is_403(witness: Witness, log: Log) -> None:
    impostor = NoteSigner.generate(ORIGIN)  # right name, wrong key
    with pytest.raises(SignatureNotVerified) as refused:
        witness.add_checkpoint(request(0, [], log.checkpoint(5, impostor)))
    assert refused.value.status == 403
    assert known(witness) is None


def test_tampered_signature_of_the_trusted_key_is_403(witness: Witness, log: Log) -> None:
    note = log.checkpoint(5)
    text, _, signature_line = note.rpartition("\n\n")
    name, _, blob = signature_line.removeprefix("— ").rstrip("\n").partition(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    tampered = f"{text}\n\n— {name} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(SignatureNotVerified):
        witness.add_checkpoint(request(0, [], tampered))
    assert known(witness) is None


def test_tree_changed_under_the_signature_is_403(witness: Witness, log: Log) -> None:
    note = log.checkpoint(5).replace("\n5\n", "\n6\n", 1)
    with pytest.raises(SignatureNotVerified):
        witness.add_checkpoint(request(0, [], note))


# --- 400 ---------------------------------------------------------------------------------------


def _malformed_bodies(log: Log) -> dict[str, bytes]:
    note = log.checkpoint(8)
    proof_lines = "".join(base64.b64encode(h).decode() + "\n" for h in log.proof(4, 8))
    node = base64.b64encode(b"\x00" * 32).decode()
    return {
        "no old line": f"\n{note}".encode(),
        "old without size": f"old\n\n{note}".encode(),
        "old with leading zero": f"old 04\n{proof_lines}\n{note}".encode(),
        "negative old": f"old -1\n\n{note}".encode(),
        "wrong keyword": f"prev 0\n\n{note}".encode(),
        "no blank line": f"old 0\n{note}".encode().replace(b"\n\n", b"\n"),
        "proof not base64": f"old 4\nnot*base64\n\n{note}".encode(),
        "proof of 31 bytes": f"old 4\n{base64.b64encode(b'x' * 31).decode()}\n\n{note}".encode(),
        "64 proof lines": ("old 4\n" + f"{node}\n" * 64 + f"\n{note}").encode(),
        "not a checkpoint": b"old 0\n\nhello\n\n\xe2\x80\x94 x AAAA\n",
        "bad size line": f"old 0\n\n{note}".replace("\n8\n", "\n08\n", 1).encode(),
        "no signatures": f"old 0\n\n{note.split(chr(10) + chr(10))[0]}\n".encode(),
        "not UTF-8": b"old 0\n\n\xff\xfe\n",
        "too large": b"old 0\n\n" + b"x" * MAX_REQUEST_SIZE,
        "old larger than size": f"old 9\n\n{note}".encode(),
    }


@pytest.mark.parametrize("case", list(_malformed_bodies(Log(NoteSigner.generate(ORIGIN)).grow(8))))
def test_malformed_request_is_400(witness: Witness, log: Log, case: str) -> None:
    body = _malformed_bodies(log)[case]
    with pytest.raises(MalformedRequest) as refused:
        witness.add_checkpoint(body)
    assert refused.value.status == 400, case
    assert known(witness) is None, f"{case}: a malformed request changed the state"


# --- Persistence and serialization ----------------------------------------------------------------


def test_key_and_state_survive_a_restart(
    witness: Witness, log: Log, log_signer: NoteSigner, state_dir: Path
) -> None:
    cosign(witness, log, 0, 10)
    key_file = state_dir / "witness.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, "the witness key must be mode 600"
    assert stat.S_IMODE((state_dir / "logs.json").stat().st_mode) == 0o600
    assert (state_dir / "witness.vkey").read_text() == witness.vkey + "\n"
    assert not [p for p in os.listdir(state_dir) if p.endswith(".tmp")], "temp file left over"

    again = Witness(state_dir, "witness.test", [log_signer.to_vkey()], clock=lambda: NOW)
    assert again.vkey == witness.vkey, "the key was regenerated on restart"
    assert known(again) == (10, log.store.root(10))
    with pytest.raises(CheckpointConflict) as refused:
        cosign(again, log, 0, 12)
    assert refused.value.known_size == 10
    cosign(again, log, 10, 12)


def test_corrupt_state_refuses_rather_than_forgets(witness: Witness, log: Log) -> None:
    cosign(witness, log, 0, 4)
    (witness.state_dir / "logs.json").write_text("{ not json")
    with pytest.raises(ConfigurationError):
        cosign(witness, log, 0, 6)
    with pytest.raises(ConfigurationError):
        Witness(witness.state_dir, "witness.test", [log.signer.to_vkey()])


def test_state_file_is_json_keyed_by_origin(witness: Witness, log: Log) -> None:
    cosign(witness, log, 0, 3)
    document = json.loads((witness.state_dir / "logs.json").read_text())
    entry = document["logs"][ORIGIN]
    assert entry["size"] == 3
    assert base64.b64decode(entry["root_hash"]) == log.store.root(3)


def test_concurrent_requests_are_serialized(witness: Witness, log: Log) -> None:
    """Eight clients race from old size 0 to different sizes: exactly one may win."""
    barrier = threading.Barrier(8)
    outcomes: list[int] = []

    def submit(size: int) -> None:
        barrier.wait()
        try:
            cosign(witness, log, 0, size)
            outcomes.append(200)
        except WitnessError as exc:
            outcomes.append(exc.status)

    threads = [threading.Thread(target=submit, args=(size,)) for size in range(3, 11)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [200] + [409] * 7, outcomes
    state = known(witness)
    assert state is not None and state == (state[0], log.store.root(state[0]))


# --- HTTP mapping (app/witness.py) -- ---------------------------------------------------------


def test_http_statuses_and_the_409_size_body(witness: Witness, log: Log) -> None:
    client = TestClient(create_witness_app(witness))
    ok = client.post("/add-checkpoint", content=request(0, [], log.checkpoint(5)))
    assert ok.status_code == 200 and ok.text.startswith("— witness.test ")

    stale = client.post("/add-checkpoint", content=request(0, [], log.checkpoint(9)))
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "text/x.tlog.size"
    assert stale.content == b"5\n"

    bad = log.proof(5, 9)
    bad[-1] = bytes(32)
    inconsistent = client.post("/add-checkpoint", content=request(5, bad, log.checkpoint(9)))
    assert inconsistent.status_code == 422
    assert client.post("/add-checkpoint", content=b"old 0\n").status_code == 400
    impostor = NoteSigner.generate(ORIGIN)
    forged = request(5, log.proof(5, 9), log.checkpoint(9, impostor))
    assert client.post("/add-checkpoint", content=forged).status_code == 403
    stranger = NoteSigner.generate("x.example/log")
    unknown = sign_checkpoint(Checkpoint("x.example/log", 1, bytes(32)), stranger)
    assert client.post("/add-checkpoint", content=request(0, [], unknown)).status_code == 404
    huge = client.post("/add-checkpoint", content=b"x" * (MAX_REQUEST_SIZE + 1))
    assert huge.status_code == 413
    assert client.get("/add-checkpoint").status_code == 405
    assert client.get("/vkey").text == witness.vkey + "\n"
