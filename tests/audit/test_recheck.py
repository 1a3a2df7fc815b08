"""A returning auditor re-reads what it mirrored (``--recheck``), on SQLite and PostgreSQL.

Yesterday's audit verified the log; tonight the operator changes one stored payload (or a
leaf) in the database. The tree and every checkpoint are untouched, so the consistency
proof still holds and nothing new is fetched: only re-fetching old entries and comparing
them with the mirror can tell, naming the entry.
"""

from __future__ import annotations

import itertools
import random

import pytest
from typer.testing import CliRunner

from app.cli import app as cli_app
from registry.audit import EXIT_FAILED, EXIT_OK, EXIT_USAGE, AuditError
from registry.audit.recheck import (
    RECHECK_BLOCK,
    RECHECK_MAX,
    RECHECK_MIN,
    recheck_count,
    sample_ranges,
)
from tests.audit.helpers import LiveRegistry
from tests.audit.test_audit_live import assert_fails_at, first_index, mirrored


def tamper_payload(live: LiveRegistry, kind: str = "shipping") -> int:
    index = first_index(live, kind)
    tampered = bytearray(live.record(index)["payload"])
    tampered[tampered.index(b'"time":"') + 9] ^= 0x01  # one digit of the year
    live.update_record(index, payload=bytes(tampered))
    return index


# --- choosing what to recheck ----------------------------------------------------------------


def test_the_default_share_of_the_log():
    assert recheck_count(None, 77) == 77  # a small log: all of it
    assert recheck_count(None, 10_000) == RECHECK_MIN
    assert recheck_count(None, 100_000) == 1000  # 1 %
    assert recheck_count(None, 10_000_000) == RECHECK_MAX
    assert recheck_count("all", 12345) == 12345
    assert recheck_count("0", 12345) == 0
    assert recheck_count(50, 20) == 20
    for bad in ("some", "-1", "1.5", -3):
        with pytest.raises(AuditError):
            recheck_count(bad, 100)


def test_random_blocks_are_sorted_distinct_and_reproducible():
    ranges = sample_ranges(256, 1_000_003, random.Random(7))
    assert ranges == sample_ranges(256, 1_000_003, random.Random(7))
    assert ranges != sample_ranges(256, 1_000_003, random.Random(8))
    assert sum(high - low for low, high in ranges) == 256
    assert all(low % RECHECK_BLOCK == 0 for low, _ in ranges)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))
    assert sample_ranges(500, 100, random.Random(1)) == [(0, 100)]
    assert sample_ranges(0, 100, random.Random(1)) == []
    last = sample_ranges(1000, 1001, random.Random(3))  # the last block is short
    assert all(high <= 1001 for _, high in last)


# --- against a live registry ---------------------------------------------------------------------


def test_the_default_recheck_rereads_old_entries(live, tmp_path):
    state = tmp_path / "state"
    size = len(live.records())
    assert live.audit(state).code == EXIT_OK
    live.requests.clear()
    again = live.audit(state, quiet=False)
    assert again.code == EXIT_OK, again
    assert f"fetched 0 new entries; rechecked {size} entries" in again.err
    assert "rechecking" in again.err  # the progress bar
    assert live.entry_requests() == [f"/log/entries?start=0&end={size}"]


def test_a_payload_altered_after_the_audit(live, tmp_path):
    state = tmp_path / "state"
    assert live.audit(state).code == EXIT_OK
    index = tamper_payload(live)

    # Without a recheck the old hole is still there: nothing new, nothing noticed.
    blind = live.audit(state, recheck=0, quiet=False)
    assert blind.code == EXIT_OK and "fetched 0 new entries" in blind.err, blind

    run = live.audit(state, recheck="all")
    assert_fails_at(run, index, "shipping", "recheck: the server now serves a different envelope")
    assert "the payload was altered" in run.out
    # The mirror keeps what was verified, so the next run fails again until it is repaired.
    assert mirrored(state) == len(live.records())
    assert live.audit(state, recheck="all").code == EXIT_FAILED


def test_a_served_leaf_altered_after_the_audit(live, tmp_path):
    state = tmp_path / "state"
    assert live.audit(state).code == EXIT_OK
    index = first_index(live, "inspection")
    leaf = live.record(index)["leaf"]
    live.update_record(index, leaf=leaf.replace(b'"logged_at":"20', b'"logged_at":"21'))
    assert live.audit(state, recheck=0).code == EXIT_OK  # the tree is untouched
    assert_fails_at(
        live.audit(state, recheck="all"), index, "inspection", "now serves a different leaf"
    )


def test_the_lowest_altered_index_is_named(live, tmp_path):
    state = tmp_path / "state"
    assert live.audit(state).code == EXIT_OK
    low, high = tamper_payload(live, "harvest"), tamper_payload(live, "shipping")
    assert low < high
    assert_fails_at(live.audit(state, recheck="all"), low, "harvest", "recheck:")


def test_random_rechecks_eventually_catch_it(live, tmp_path):
    """A daily auditor rechecking a few blocks at random: some night it lands on the entry."""
    state = tmp_path / "state"
    assert live.audit(state).code == EXIT_OK
    index = tamper_payload(live)
    runs = [live.audit(state, recheck=RECHECK_BLOCK, recheck_seed=seed) for seed in range(40)]
    caught = [run for run in runs if run.code != EXIT_OK]
    assert caught, "40 random rechecks never reached the altered entry"
    for run in caught:
        assert_fails_at(run, index, "shipping", "recheck:")
    assert len(caught) < len(runs)  # a few blocks at a time, not everything
    # The same seed chooses the same entries.
    again = live.audit(state, recheck=RECHECK_BLOCK, recheck_seed=runs.index(caught[0]))
    assert again.code == EXIT_FAILED


def test_a_bad_recheck_value_is_a_usage_error(live, tmp_path):
    assert live.audit(tmp_path / "state", recheck="most").code == EXIT_USAGE


def test_the_cli_takes_recheck_all(live, tmp_path):
    state = str(tmp_path / "s")
    assert CliRunner().invoke(cli_app, ["audit", live.url, "--state", state, "-q"]).exit_code == 0
    index = tamper_payload(live)
    result = CliRunner().invoke(
        cli_app, ["audit", live.url, "--state", state, "-q", "--recheck", "all"]
    )
    assert result.exit_code == EXIT_FAILED, result.output
    assert f"FAILED at log index {index} (kind shipping): recheck:" in result.output
