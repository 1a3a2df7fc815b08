"""The registry's side of witnessing on a real database: submitting checkpoints, storing
verified cosignatures, and choosing what ``GET /log/checkpoint`` serves.

The witness is the real one, reached in-process through Starlette's test client (an
``httpx.Client``), or a fake transport when the test needs a misbehaving witness.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from app.witness import create_witness_app
from registry.errors import VerificationError
from registry.log.note import CosignatureSigner, open_checkpoint, open_cosignature, parse_vkey
from registry.models import Checkpoint, CheckpointCosignature
from registry.transparency import log as log_service
from registry.transparency import witnessing
from registry.transparency.witness import Witness, parse_add_checkpoint
from registry.transparency.witnessing import (
    SubmissionFailed,
    WitnessEndpoint,
    WitnessProgress,
    add_checkpoint_body,
    parse_size_body,
    served_checkpoint,
    store_cosignature,
    submit_once,
)


@pytest.fixture
def witness(tmp_path: Path, registry_log) -> Witness:
    return Witness(tmp_path / "witness", "witness.test", [registry_log.vkey])


def endpoint_of(witness: Witness, url: str = "http://testserver") -> WitnessEndpoint:
    return WitnessEndpoint.parse(f"{url}/ {witness.vkey}")


def stored(registry_log, witness_name: str = "witness.test") -> dict[int, str]:
    with registry_log.factory() as session:
        rows = session.query(CheckpointCosignature).filter_by(witness=witness_name).all()
        return {row.size: row.line for row in rows}


def checkpoint_text(registry_log, size: int) -> str:
    with registry_log.factory() as session:
        note = session.get_one(Checkpoint, size).note
    return note[: note.rfind("\n\n") + 1]


# --- Wire format --------------------------------------------------------------------------------


def test_request_body_round_trips_through_the_witness_parser(registry_log) -> None:
    size = registry_log.write(4)
    with registry_log.factory() as session:
        note = log_service.latest_checkpoint(session).note
        proof = log_service.consistency_proof(session, 2, size)
    parsed = parse_add_checkpoint(add_checkpoint_body(2, proof, note))
    assert (parsed.old_size, list(parsed.proof), parsed.note) == (2, proof, note)


@pytest.mark.parametrize(
    ("body", "size"), [(b"0\n", 0), (b"17\n", 17), (b"17", None), (b"017\n", None), (b"", None)]
)
def test_size_body(body: bytes, size: int | None) -> None:
    if size is None:
        with pytest.raises(VerificationError):
            parse_size_body(body)
    else:
        assert parse_size_body(body) == size


# --- Submission --------------------------------------------------------------------------------


def test_submission_stores_a_verified_cosignature_and_then_rests(
    registry_log, witness: Witness
) -> None:
    endpoint, progress = endpoint_of(witness), WitnessProgress()
    with TestClient(create_witness_app(witness)) as client:
        # The log so far: the registry key's registration and the status index after it.
        assert submit_once(registry_log.factory, endpoint, client, progress) == 2
        assert submit_once(registry_log.factory, endpoint, client, progress) is None
        size = registry_log.write(3)
        assert submit_once(registry_log.factory, endpoint, client, progress) == size
    lines = stored(registry_log)
    assert sorted(lines) == [2, size]
    for at, line in lines.items():
        open_cosignature(checkpoint_text(registry_log, at), line, endpoint.verifier)
    assert witness.cosigned()[registry_log.ctx.log_origin].size == size


def test_an_idle_log_is_cosigned_afresh_after_a_quarter_of_the_window(
    registry_log, witness: Witness
) -> None:
    """A log that does not grow: the newest checkpoint is re-submitted (old = new size) once
    its cosignature is a quarter of a 60 s window old, and the fresher line is stored."""
    endpoint, progress = endpoint_of(witness), WitnessProgress()
    size = registry_log.write(2)
    refresh = timedelta(seconds=15)
    with TestClient(create_witness_app(witness)) as client:
        assert submit_once(registry_log.factory, endpoint, client, progress) == size
        first = stored(registry_log)[size]
        text = checkpoint_text(registry_log, size)
        signed_at = open_cosignature(text, first, endpoint.verifier).timestamp
        young = lambda: datetime.fromtimestamp(signed_at + 14, UTC)  # noqa: E731
        old = lambda: datetime.fromtimestamp(signed_at + 16, UTC)  # noqa: E731
        assert submit_once(registry_log.factory, endpoint, client, progress, young, refresh) is None
        assert submit_once(registry_log.factory, endpoint, client, progress) is None  # no window
        time.sleep(1.1)  # the witness's clock must move on for a newer timestamp
        assert submit_once(registry_log.factory, endpoint, client, progress, old, refresh) == size
    fresh = stored(registry_log)[size]
    assert fresh != first
    assert open_cosignature(text, fresh, endpoint.verifier).timestamp > signed_at
    assert sorted(stored(registry_log)) == [size]  # the same checkpoint, a fresher line


def test_submission_learns_the_witness_size_from_409(registry_log, witness: Witness) -> None:
    endpoint = endpoint_of(witness)
    with TestClient(create_witness_app(witness)) as client:
        submit_once(registry_log.factory, endpoint, client, WitnessProgress())
        size = registry_log.write(2)
        # A submitter that lost its memory and whose stored rows are gone starts from 0.
        with registry_log.factory() as session, session.begin():
            session.query(CheckpointCosignature).delete()
        progress = WitnessProgress()
        assert submit_once(registry_log.factory, endpoint, client, progress) == size
    assert progress.known_size == size
    assert sorted(stored(registry_log)) == [size]


def test_a_witness_ahead_of_the_log_is_reported_not_followed(
    registry_log, witness: Witness
) -> None:
    endpoint = endpoint_of(witness)
    progress = WitnessProgress(known_size=registry_log.size() + 5)
    with (
        TestClient(create_witness_app(witness)) as client,
        pytest.raises(SubmissionFailed, match="rolled back or forked"),
    ):
        submit_once(registry_log.factory, endpoint, client, progress)
    assert stored(registry_log) == {}


def _fake_witness(handler) -> httpx.Client:  # type: ignore[no-untyped-def]
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_a_cosignature_that_does_not_verify_is_not_stored(registry_log, witness: Witness) -> None:
    impostor = CosignatureSigner.generate("witness.test")  # the right name, another key

    def handler(request: httpx.Request) -> httpx.Response:
        note = parse_add_checkpoint(request.content).note
        line = impostor.cosign(note[: note.rfind("\n\n") + 1], 1_790_000_000)
        return httpx.Response(200, text=line)

    with pytest.raises(SubmissionFailed), _fake_witness(handler) as client:
        submit_once(registry_log.factory, endpoint_of(witness), client, WitnessProgress())
    assert stored(registry_log) == {}


def test_other_witness_lines_in_the_response_are_ignored(registry_log, witness: Witness) -> None:
    real = create_witness_app(witness)
    other = CosignatureSigner.generate("other.witness")

    def handler(request: httpx.Request) -> httpx.Response:
        with TestClient(real) as inner:
            answer = inner.post("/add-checkpoint", content=request.content)
        note = parse_add_checkpoint(request.content).note
        extra = other.cosign(note[: note.rfind("\n\n") + 1], 1)
        return httpx.Response(answer.status_code, text=extra + answer.text)

    with _fake_witness(handler) as client:
        assert (
            submit_once(registry_log.factory, endpoint_of(witness), client, WitnessProgress())
            == registry_log.size()
        )
    assert list(stored(registry_log)) == [registry_log.size()]
    assert stored(registry_log, "other.witness") == {}


@pytest.mark.parametrize("status", [400, 403, 404, 422, 500, 503])
def test_refusals_raise_and_store_nothing(registry_log, witness: Witness, status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="no\n")

    with pytest.raises(SubmissionFailed, match=f"HTTP {status}"), _fake_witness(handler) as client:
        submit_once(registry_log.factory, endpoint_of(witness), client, WitnessProgress())
    assert stored(registry_log) == {}


def test_endless_409_gives_up(registry_log, witness: Witness) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # Whatever old size is sent, the witness names another one.
        old = int(request.content.split(b"\n", 1)[0].removeprefix(b"old "))
        size = f"{1 - old}\n".encode()  # 0 and 1 in turn: both within the log
        return httpx.Response(409, content=size, headers={"Content-Type": "text/x.tlog.size"})

    with pytest.raises(SubmissionFailed, match="409"), _fake_witness(handler) as client:
        submit_once(registry_log.factory, endpoint_of(witness), client, WitnessProgress())


def test_backoff_grows_and_is_capped() -> None:
    progress = WitnessProgress()
    delays = []
    for failures in range(1, 12):
        progress.failures = failures
        delays.append(progress.backoff())
    assert delays[0] <= witnessing.BASE_BACKOFF
    assert all(d <= witnessing.MAX_BACKOFF for d in delays)
    assert delays[-1] >= witnessing.MAX_BACKOFF / 2


# --- What GET /log/checkpoint serves ------------------------------------------------------------


def test_served_checkpoint_prefers_cosigned_heads_within_the_grace(
    registry_log, witness: Witness
) -> None:
    endpoint = endpoint_of(witness)
    with TestClient(create_witness_app(witness)) as client:
        cosigned = registry_log.write(2)
        submit_once(registry_log.factory, endpoint, client, WitnessProgress())
    newest = registry_log.write(1)
    log_key = parse_vkey(registry_log.vkey)
    with registry_log.factory() as session:
        created = session.get_one(Checkpoint, newest).created_at

        # No witnesses configured: always the newest head, as it is.
        plain = served_checkpoint(session, witnessed=False, now=created)
        assert open_checkpoint(plain, [log_key])[0].size == newest

        # Witnesses configured, the newest head still young: the newest cosigned one.
        note = served_checkpoint(session, witnessed=True, now=created + timedelta(seconds=1))
        checkpoint, opened = open_checkpoint(note, [log_key, endpoint.verifier])
        assert checkpoint.size == cosigned
        assert {s.name for s in opened.signatures} == {registry_log.ctx.log_origin, "witness.test"}

        # The grace is over: the newest head, uncosigned.
        late = created + witnessing.COSIGNATURE_GRACE + timedelta(seconds=1)
        note = served_checkpoint(session, witnessed=True, now=late)
        checkpoint, opened = open_checkpoint(note, [log_key, endpoint.verifier])
        assert checkpoint.size == newest and len(opened.signatures) == 1

    with registry_log.factory() as session, session.begin():
        line = witness.signer.cosign(checkpoint_text(registry_log, newest), 1_790_000_000)
        assert store_cosignature(session, newest, "witness.test", line, created)
        assert not store_cosignature(session, newest, "witness.test", line, created)
    with registry_log.factory() as session:
        note = served_checkpoint(session, witnessed=True, now=created)
        checkpoint, opened = open_checkpoint(note, [log_key, endpoint.verifier])
        assert checkpoint.size == newest and len(opened.signatures) == 2
