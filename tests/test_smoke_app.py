from fastapi.testclient import TestClient

from app.factory import create_app


def test_health_and_genesis(settings, db):
    with TestClient(create_app(settings, db)) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        checkpoint = client.get("/log/checkpoint").text
        assert checkpoint.splitlines()[1] == "2", checkpoint
        entries = client.get("/log/entries?start=0&end=10").json()["entries"]
        assert [e["kind"] for e in entries] == ["key_registration", "status_index"]
