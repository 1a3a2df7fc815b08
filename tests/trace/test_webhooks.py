"""Webhooks: a recall reaches a real local receiver, HMAC-signed, retried after a failure,
with a delivery log; secrets are sealed at rest."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select

from registry.db import transaction
from registry.errors import InvalidInput
from registry.models import WebhookDelivery, WebhookSubscription
from registry.notifications import delivery as webhooks
from registry.notifications import outbox as webhook_outbox
from registry.notifications import signing as webhook_signing
from registry.notifications import subscriptions as webhook_subscriptions
from registry.settings import Mode
from tests.endorsements.world import World, assert_problem, expect, wait_for
from tests.trace.conftest import Lineage, Receiver

REASON = "黄曲霉毒素超标 Aflatoxin above the limit"


def _subscribe(world: World, who: str, url: str) -> dict[str, Any]:
    response = world.client.post(
        "/api/v1/webhooks",
        json={"url": url, "events": ["recall"]},
        headers=world.parties[who].headers,
    )
    return expect(response, 201, f"{who} subscribing")


def _deliveries(world: World, who: str, webhook_id: str) -> list[dict[str, Any]]:
    response = world.client.get(
        f"/api/v1/webhooks/{webhook_id}/deliveries", headers=world.parties[who].headers
    )
    return expect(response, 200, "the delivery log")  # type: ignore[return-value]


def test_a_recall_is_delivered_signed_and_retried_after_a_500(
    world: World, lineage: Lineage, receiver: Receiver
) -> None:
    receiver.statuses = [500]  # the first attempt fails, the retry succeeds
    hook = _subscribe(world, "coop", receiver.url)
    secret = hook["secret"]
    assert secret.startswith("whsec_") and hook["secret_prefix"] == secret[:10]
    far = _subscribe(world, "far_coop", receiver.url + "/far")  # not reached by the recall

    recall = expect(
        world.client.post(
            f"/api/v1/batches/{lineage.code[lineage.raw_a]}/recall",
            json={"reason": REASON},
            headers=world.head.headers,
        ),
        201,
        "the recall",
    )
    assert recall["notified_organizations"] == [str(world.coop.org_id)]

    wait_for(lambda: receiver.count() >= 2, 15, "the webhook and its retry")
    first, second = receiver.received[:2]
    assert first.path == second.path == "/hooks/registry"
    assert first.body == second.body, "a retry sends the same bytes"
    for delivery in (first, second):
        expected = "sha256=" + hmac.new(secret.encode(), delivery.body, hashlib.sha256).hexdigest()
        assert delivery.headers["X-Registry-Signature"] == expected
        webhook_signing.verify_signature(
            secret, delivery.body, delivery.headers["X-Registry-Signature"]
        )
        assert delivery.headers["X-Registry-Event"] == "recall"
        assert delivery.headers["Content-Type"] == "application/json"
    assert first.headers["X-Registry-Delivery"] == second.headers["X-Registry-Delivery"]
    event = json.loads(first.body)
    assert event["event"] == "recall" and event["id"] == first.headers["X-Registry-Delivery"]
    assert event["organization_id"] == str(world.coop.org_id)
    assert event["recall"]["digest"] == recall["recall"]["digest"]
    assert event["recall"]["reason"] == REASON and event["recall"]["descendants_reached"] == 2
    assert event["your_batches"] == [lineage.code[lineage.raw_a]]
    assert event["recall"]["url"].endswith("/recalls")

    log = wait_for(
        lambda: [d for d in _deliveries(world, "coop", hook["id"]) if d["status"] == "delivered"],
        10,
        "the delivery logged as delivered",
    )
    assert len(log) == 1
    delivery = log[0]
    assert delivery["id"] == first.headers["X-Registry-Delivery"]
    assert delivery["event"] == "recall" and delivery["event_id"] == recall["recall"]["digest"]
    assert delivery["attempts"] == 2 and delivery["last_status_code"] == 200
    assert [(a["number"], a["status_code"]) for a in delivery["log"]] == [(1, 500), (2, 200)]
    assert "HTTP 500" in delivery["log"][0]["error"] and delivery["log"][1]["error"] is None
    gap = _seconds_between(delivery["log"][0]["attempted_at"], delivery["log"][1]["attempted_at"])
    assert gap >= 0.9, f"the retry waited {gap:.2f} s; the first backoff is 1 s"

    assert receiver.count() == 2, "the unrelated cooperative got nothing"
    assert _deliveries(world, "far_coop", far["id"]) == []


def _seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def test_a_recall_posted_as_a_custodial_draft_is_notified_too(
    world: World, lineage: Lineage, receiver: Receiver
) -> None:
    """The outbox hooks every recall the app accepts, not only the convenience endpoint."""
    _subscribe(world, "head", receiver.url)  # the authority of the jurisdiction
    response = world.custodial(
        world.coop,
        {"kind": "recall", "batches": [lineage.raw_b], "reason": "自查 own check"},
    )
    expect(response, 201, "a recall as a custodial draft")
    wait_for(lambda: receiver.count() >= 1, 10, "the webhook")
    event = json.loads(receiver.received[0].body)
    assert event["recall"]["batches"][0]["code"] == lineage.code[lineage.raw_b]
    assert event["your_batches"] == []  # the authority produced none of them


def test_the_secret_is_sealed_at_rest(world: World, receiver: Receiver) -> None:
    hook = _subscribe(world, "coop", receiver.url)
    secret = hook["secret"]
    with transaction(world.app.state.session_factory) as session:
        row = session.get(WebhookSubscription, uuid.UUID(hook["id"]))
        assert row is not None
    # What the database holds, read without the ORM.
    with world.app.state.engine.connect() as connection:
        (stored,) = connection.exec_driver_sql("SELECT * FROM webhook_subscriptions").fetchall()
    for value in stored:
        raw = isinstance(value, bytes | memoryview)
        text = bytes(value).decode("latin-1") if raw else str(value)
        assert secret not in text and secret[10:] not in text, "the secret is stored in plaintext"
    opened = webhook_signing.open_secret(row.sealed_secret, world.ctx.master_key, row.id)
    assert opened == secret
    listed = expect(world.client.get("/api/v1/webhooks", headers=world.coop.headers), 200, "list")
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]


def test_subscriptions_belong_to_their_organization(world: World, receiver: Receiver) -> None:
    hook = _subscribe(world, "coop", receiver.url)
    other = world.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=world.mill.headers)
    assert_problem(other, 404, what="another organization deleting the webhook")
    peek = world.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=world.mill.headers)
    assert_problem(peek, 404, what="another organization reading the delivery log")
    assert world.client.get("/api/v1/webhooks", headers=world.mill.headers).json() == []

    gone = world.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=world.coop.headers)
    assert gone.status_code == 204
    assert world.client.get("/api/v1/webhooks", headers=world.coop.headers).json() == []
    assert_problem(
        world.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=world.coop.headers), 404
    )


def test_bad_subscriptions_are_refused(world: World) -> None:
    cases = [
        {"url": "ftp://127.0.0.1/hook", "events": ["recall"]},
        {"url": "127.0.0.1:9/hook", "events": ["recall"]},
        {"url": "http://user:pw@127.0.0.1/hook", "events": ["recall"]},
        {"url": "http://127.0.0.1/hook", "events": ["harvest"]},
        {"url": "http://127.0.0.1/hook", "events": []},
    ]
    for body in cases:
        response = world.client.post("/api/v1/webhooks", json=body, headers=world.coop.headers)
        assert_problem(response, 422, what=f"subscribing {body}")
    assert_problem(world.client.post("/api/v1/webhooks", json=cases[0]), 401)


def test_production_mode_refuses_local_and_plain_http_urls() -> None:
    for url in (
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://localhost/x",
    ):
        try:
            webhook_subscriptions._check_url(url, Mode.PRODUCTION)
        except InvalidInput:
            continue
        raise AssertionError(f"{url} must be refused in production")
    assert webhook_subscriptions._check_url("https://hooks.example.com/x", Mode.PRODUCTION)


def test_retry_backoff_doubles_and_is_capped() -> None:
    policy = webhooks.RetryPolicy(base=1.0, cap=8.0, max_attempts=6)
    assert [policy.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_a_delivery_fails_after_max_attempts(world: World, receiver: Receiver) -> None:
    """Drive the deliverer by hand with a tiny backoff: every attempt gets a 500."""
    receiver.statuses = [500] * 10
    hook = _subscribe(world, "coop", receiver.url)
    factory = world.app.state.session_factory
    world.app.state.webhook_deliverer.stop()  # this test delivers by hand
    with transaction(factory) as session:
        webhook_outbox.enqueue(
            session,
            "recall",
            "f" * 64,
            [world.coop.org_id],
            lambda org: {"test": True},
            world.ctx.clock(),
        )
    policy = webhooks.RetryPolicy(base=0.01, cap=0.02, max_attempts=3)
    with httpx.Client(timeout=5) as client:
        for _ in range(50):
            webhooks.deliver_due(factory, world.ctx.master_key, client, retry=policy)
            with transaction(factory) as session:
                status = session.scalars(select(WebhookDelivery.status)).one()
            if status != "pending":
                break
            time.sleep(0.02)
    assert status == "failed"
    (delivery,) = _deliveries(world, "coop", hook["id"])
    assert delivery["attempts"] == 3 and delivery["next_attempt_at"] is None
    assert [a["status_code"] for a in delivery["log"]] == [500, 500, 500]
    assert receiver.count() == 3
