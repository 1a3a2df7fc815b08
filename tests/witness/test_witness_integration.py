"""End to end: a real witness over HTTP (uvicorn on 127.0.0.1) and the registry app configured
with it. Records go in, cosignatures come back onto ``/log/checkpoint``; a stopped witness
costs the writes nothing; a restarted witness (same state directory) picks up where it was."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from app.factory import create_app
from registry.demo import load_demo
from registry.log.note import Checkpoint, open_note, parse_cosignature_vkey, parse_vkey
from registry.transparency import witnessing
from registry.transparency.witness import Witness


def served(client: TestClient, log_vkey: str, witness_vkey: str) -> tuple[int, set[str]]:
    """Size of the served checkpoint and the names whose signatures on it verify."""
    response = client.get("/log/checkpoint")
    assert response.status_code == 200, response.text
    opened = open_note(response.text, [parse_vkey(log_vkey), parse_cosignature_vkey(witness_vkey)])
    assert not opened.unverified_signatures, f"unexpected signature lines: {response.text}"
    return Checkpoint.parse(opened.text).size, {s.name for s in opened.signatures}


def wait_for(condition, what: str, seconds: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}"
        time.sleep(0.1)


def test_cosignatures_reach_the_checkpoint_and_a_dead_witness_blocks_nothing(
    settings,
    db,
    registry_log,
    free_port: int,
    tmp_path: Path,
    run_witness,
) -> None:
    # registry_log bootstrapped the registry: the log key exists, so the witness can start.
    log_vkey, origin = registry_log.vkey, registry_log.ctx.log_origin
    state = tmp_path / "witness"
    witness = Witness(state, "witness.test", [log_vkey])
    port = free_port
    witnessed = settings.model_copy(
        update={"witnesses": [f"http://127.0.0.1:{port} {witness.vkey}"]}
    )
    cosigned = {origin, "witness.test"}

    with TestClient(create_app(witnessed, db)) as client:
        state_of_app = client.app.state  # type: ignore[attr-defined]
        live = registry_log.bound_to(state_of_app.session_factory, state_of_app.ctx)

        with run_witness(witness, port):
            load_demo(state_of_app.session_factory, state_of_app.ctx)
            demo_size = live.size()
            assert demo_size > 20, "the demo should have appended records"
            # Within a few seconds the served checkpoint is the newest one, cosigned.
            wait_for(
                lambda: served(client, log_vkey, witness.vkey) == (demo_size, cosigned),
                "the newest checkpoint to be served with the witness's cosignature",
            )
            assert witness.cosigned()[origin].size == demo_size

        # The witness is down: writes neither wait nor fail. The app's clock is frozen from
        # here on, so that "young" and "past the grace period" are not left to timing.
        now = [state_of_app.ctx.clock()]
        state_of_app.ctx.clock = lambda: now[0]
        started = time.monotonic()
        size = live.write(5)
        elapsed = time.monotonic() - started
        assert size == demo_size + 10  # each write is followed by its status index
        assert elapsed < 5, f"5 writes took {elapsed:.1f} s with the witness down"
        # A young head waits for the witness; the cosigned one is served meanwhile ...
        assert served(client, log_vkey, witness.vkey) == (demo_size, cosigned)
        # ... but not forever: after the grace the log's head is served without it.
        now[0] += witnessing.COSIGNATURE_GRACE + timedelta(seconds=1)
        assert served(client, log_vkey, witness.vkey) == (size, {origin})

        # The witness comes back from its state directory and is brought up to date with a
        # consistency proof from the size it cosigned before it went down.
        restarted = Witness(state, "witness.test", [log_vkey])
        assert restarted.vkey == witness.vkey, "the witness key changed on restart"
        assert restarted.cosigned()[origin].size == demo_size
        with run_witness(restarted, port):
            wait_for(
                lambda: served(client, log_vkey, witness.vkey) == (size, cosigned),
                "the cosignature of the head after the witness restarted",
                seconds=90,
            )
        assert restarted.cosigned()[origin].size == size


def test_no_witnesses_configured_serves_the_newest_plain_checkpoint(settings, db) -> None:
    with TestClient(create_app(settings, db)) as client:
        assert client.app.state.witness_submitter is not None  # type: ignore[attr-defined]
        text = client.get("/log/checkpoint").text
        assert text.splitlines()[1] == "2"  # the registry key's record, its status index
        assert text.count("\n— ") == 1, "only the log's own signature"
