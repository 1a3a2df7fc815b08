import threading

from fastapi.testclient import TestClient

from app.factory import create_app


def test_health_and_genesis(settings, db):
    with TestClient(create_app(settings, db)) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        checkpoint = client.get("/log/checkpoint").text
        assert checkpoint.splitlines()[1] == "2", checkpoint
        entries = client.get("/log/entries?start=0&end=10").json()["entries"]
        assert [e["kind"] for e in entries] == ["key_registration", "status_index"]


def test_a_second_lifespan_on_a_running_app_stops_only_its_own_threads(settings, db):
    """A test client on an app that is already running runs its lifespan a second time; each
    run must stop the threads it started, or the first run's capture worker outlives the app
    (and claims the stored jobs of whatever runs on that database next)."""
    app = create_app(settings.model_copy(update={"capture_worker": True}), db)

    def workers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "capture-worker"]

    before = set(workers())
    with TestClient(app) as first:
        with TestClient(app) as second:
            assert len(set(workers()) - before) == 2
            assert second.get("/healthz").status_code == 200
        assert first.get("/healthz").status_code == 200
    assert set(workers()) - before == set()
