"""The witness policy and the page scripts' releases are logged once, and again on change."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from registry.errors import ConfigurationError
from registry.log.note_keys import NoteSigner
from registry.models import Record
from registry.operations.bootstrap import bootstrap
from registry.operations.publication import (
    configured_policy,
    logged_script_releases,
    publish_script_releases,
    publish_witness_policy,
    script_sha256,
)
from registry.transparency import log as log_service


def _kinds(factory, kind: str) -> list[dict]:
    with factory() as session:
        return [
            json.loads(r.payload)
            for r in session.scalars(select(Record).where(Record.kind == kind))
        ]


def test_policy_is_logged_once_and_a_change_logs_a_new_one(session_factory, settings, tmp_path):
    ctx = bootstrap(session_factory, settings)
    assert publish_witness_policy(session_factory, ctx) is not None
    assert publish_witness_policy(session_factory, ctx) is None  # nothing changed
    [first] = _kinds(session_factory, "witness_policy")
    assert first["policy"] == f"log {log_service.log_vkey(ctx)}\nquorum none\n"

    policy_file = tmp_path / "policy.txt"
    policy_file.write_text(f"log {log_service.log_vkey(ctx)}\nquorum none\n# reviewed\n")
    ctx.settings = settings.model_copy(update={"witness_policy": str(policy_file)})
    assert publish_witness_policy(session_factory, ctx) is not None
    assert [p["policy"] for p in _kinds(session_factory, "witness_policy")][-1].endswith(
        "# reviewed\n"
    )
    ctx.settings = ctx.settings.model_copy(update={"witness_max_age_seconds": 600})
    assert publish_witness_policy(session_factory, ctx) is not None
    assert len(_kinds(session_factory, "witness_policy")) == 3


def test_a_policy_for_another_log_refuses_to_start(session_factory, settings, tmp_path):
    ctx = bootstrap(session_factory, settings)
    policy_file = tmp_path / "policy.txt"
    other = NoteSigner.generate("other.example/log").to_vkey()
    policy_file.write_text(f"log {other}\nquorum none\n")
    ctx.settings = settings.model_copy(update={"witness_policy": str(policy_file)})
    with pytest.raises(ConfigurationError, match="not this log's key"):
        configured_policy(ctx)


def test_a_changed_script_is_a_new_release(session_factory, settings):
    ctx = bootstrap(session_factory, settings)
    assert len(publish_script_releases(session_factory, ctx, {"verify.js": b"one();"})) == 1
    assert publish_script_releases(session_factory, ctx, {"verify.js": b"one();"}) == []
    assert len(publish_script_releases(session_factory, ctx, {"verify.js": b"two();"})) == 1
    with session_factory() as session:
        releases = logged_script_releases(session)
    assert set(releases) == {
        ("verify.js", script_sha256(b"one();")),
        ("verify.js", script_sha256(b"two();")),
    }
