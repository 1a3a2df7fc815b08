"""The demo dataset: complete, verifiable chains, a recall that reaches a downstream product."""

import base64
import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.factory import create_app
from registry.crypto.dsse import Envelope, verified_keyids
from registry.crypto.keys import load_public_key
from registry.db import transaction
from registry.demo import load_demo
from registry.models import Batch, Record, RecordBatch, SigningKey


def test_demo_loads_once_with_verifiable_chains(settings, db):
    with TestClient(create_app(settings, db)) as client:
        app = client.app
        summary = load_demo(app.state.session_factory, app.state.ctx)
        again = load_demo(app.state.session_factory, app.state.ctx)
        assert again == summary, "loading the demo twice must change nothing"

        lots = {b["lot"]: b for b in summary["batches"]}
        assert len(lots) == 11
        assert lots["PY-FL-0602"]["recalled"] and lots["PY-CAKE-0611"]["recalled"], (
            "the flour recall must reach the rose cakes baked from it"
        )
        assert not lots["PY-CAKE-0610"]["recalled"]
        assert not lots["PY-ROSE-0521"]["recalled"], "a shared input is not recalled upstream"
        roles = {a["role"] for a in summary["accounts"]}
        assert roles == {"admin", "clerk", "official"}

        with transaction(app.state.session_factory) as session:
            keys = {
                k.key_id: load_public_key(k.public_key) for k in session.scalars(select(SigningKey))
            }
            records = list(session.scalars(select(Record).order_by(Record.log_index)))
            assert [r.log_index for r in records] == list(range(len(records))), "gap in the log"
            for record in records:
                envelope = Envelope(
                    payload=record.payload,
                    payload_type=record.payload_type,
                    signatures=Envelope.from_json(
                        {
                            "payload": base64.b64encode(record.payload).decode(),
                            "payloadType": record.payload_type,
                            "signatures": record.signatures,
                        }
                    ).signatures,
                )
                verified_keyids(envelope, keys.get)  # raises on any bad signature
            # Every batch's chain links each record to the previous one of that batch.
            for batch in session.scalars(select(Batch)):
                links = session.execute(
                    select(RecordBatch.prev_digest, Record.digest)
                    .join(Record, Record.log_index == RecordBatch.record_index)
                    .where(RecordBatch.batch_id == batch.id)
                    .order_by(Record.log_index)
                ).all()
                previous = None
                for prev, digest in links:
                    assert prev == previous, f"chain of {batch.lot} is broken at {digest}"
                    previous = digest
                assert batch.head_digest == previous

        checkpoint = client.get("/log/checkpoint").text.splitlines()
        assert int(checkpoint[1]) == len(records)
        # The checkpoint ends with the status index; the demo's last record is the recall.
        assert json.loads(records[-1].payload)["kind"] == "status_index"
        payload = json.loads(records[-2].payload)
        assert payload["kind"] == "recall"
