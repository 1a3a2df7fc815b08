"""``GET /api/v1/batches/{id}/trace``: backward and forward through two processing steps."""

from __future__ import annotations

from typing import Any

from tests.endorsements.world import World, assert_problem, expect
from tests.trace.conftest import Lineage


def _trace(world: World, ident: str, direction: str, **params: Any) -> dict[str, Any]:
    response = world.client.get(
        f"/api/v1/batches/{ident}/trace", params={"direction": direction, **params}
    )
    return expect(response, 200, f"tracing {ident} {direction}")


def _records_of(world: World, codes: list[str]) -> set[int]:
    """Every record of these batches, from the existing per-batch endpoint."""
    found: set[int] = set()
    for code in codes:
        rows = expect(world.client.get(f"/api/v1/batches/{code}/records"), 200, code)
        found.update(r["index"] for r in rows)
    return found


def _processing_indexes(world: World) -> list[int]:
    rows = expect(world.client.get("/api/v1/records", params={"kind": "processing"}), 200, "list")
    return [r["index"] for r in rows["items"]]


def test_backward_trace_reaches_both_harvests_with_depths_edges_and_records(
    world: World, lineage: Lineage
) -> None:
    code = lineage.code
    body = _trace(world, code[lineage.packaged], "backward")

    assert body["direction"] == "backward" and body["truncated"] is False
    assert body["batch"]["code"] == code[lineage.packaged]
    depths = {b["code"]: b["depth"] for b in body["batches"]}
    assert depths == {
        code[lineage.packaged]: 0,
        code[lineage.hulled]: 1,
        code[lineage.raw_a]: 2,
        code[lineage.raw_b]: 2,
    }, f"backward from the bags: wrong batches or depths: {depths}"
    assert [b["depth"] for b in body["batches"]] == sorted(depths.values()), "nearest first"
    raw = next(b for b in body["batches"] if b["code"] == code[lineage.raw_a])
    assert raw["product"]["name_en"] == "Aohan millet (unhulled)"
    assert raw["origin"]["id"] == str(world.coop.org_id)
    assert raw["origin"]["kind"] == "cooperative" and raw["origin"]["name_zh"]
    assert raw["lot"] == "RA1" and raw["recalled"] is False and raw["ref"] == lineage.raw_a

    first, second = _processing_indexes(world)
    edges = {
        (e["input_code"], e["output_code"], e["quantity"], e["record_index"]) for e in body["edges"]
    }
    assert edges == {
        (code[lineage.raw_a], code[lineage.hulled], "600", first),
        (code[lineage.raw_b], code[lineage.hulled], "400", first),
        (code[lineage.hulled], code[lineage.packaged], "800", second),
    }, f"backward edges: {edges}"
    ids = {b["code"]: b["id"] for b in body["batches"]}
    for edge in body["edges"]:
        assert ids[edge["input_code"]] == edge["input"]
        assert ids[edge["output_code"]] == edge["output"]

    indexes = [r["index"] for r in body["records"]]
    assert indexes == sorted(indexes), "records come in log order"
    assert set(indexes) == _records_of(world, list(depths)), (
        "the trace's records differ from the union of the batches' own records"
    )
    kinds = [r["kind"] for r in body["records"]]
    assert kinds.count("harvest") == 2 and kinds.count("processing") == 2
    assert kinds.count("inspection") == 2 and kinds.count("certificate") == 3
    processing = next(r for r in body["records"] if r["index"] == first)
    assert sorted(processing["batches"]) == sorted(
        [code[lineage.raw_a], code[lineage.raw_b], code[lineage.hulled]]
    ), "a processing record lists every traced batch it touches"
    for record in body["records"]:
        assert len(record["digest"]) == 64 and record["time"]


def test_forward_trace_from_one_raw_lot_reaches_the_bags_but_not_the_other_lot(
    world: World, lineage: Lineage
) -> None:
    code = lineage.code
    body = _trace(world, code[lineage.raw_a], "forward")

    depths = {b["code"]: b["depth"] for b in body["batches"]}
    assert depths == {code[lineage.raw_a]: 0, code[lineage.hulled]: 1, code[lineage.packaged]: 2}
    edges = {(e["input_code"], e["output_code"], e["quantity"]) for e in body["edges"]}
    assert edges == {
        (code[lineage.raw_a], code[lineage.hulled], "600"),
        (code[lineage.hulled], code[lineage.packaged], "800"),
    }, "forward: the other raw lot's edge is not on the way"
    assert {r["index"] for r in body["records"]} == _records_of(world, list(depths))
    first = _processing_indexes(world)[0]
    processing = next(r for r in body["records"] if r["index"] == first)
    assert sorted(processing["batches"]) == sorted([code[lineage.raw_a], code[lineage.hulled]])


def test_a_leaf_traces_to_itself_and_the_id_and_lower_case_code_work(
    world: World, lineage: Lineage
) -> None:
    code = lineage.code[lineage.packaged]
    by_code = _trace(world, code.lower(), "forward")
    assert [b["code"] for b in by_code["batches"]] == [code] and by_code["edges"] == []
    batch_id = by_code["batch"]["id"]
    by_id = _trace(world, batch_id, "forward")
    assert by_id == by_code
    default = expect(world.client.get(f"/api/v1/batches/{code}/trace"), 200, "no direction")
    assert default["direction"] == "backward" and len(default["batches"]) == 4


def test_limit_truncates_to_the_nearest_batches(world: World, lineage: Lineage) -> None:
    body = _trace(world, lineage.code[lineage.packaged], "backward", limit=2)
    assert body["truncated"] is True
    assert [b["depth"] for b in body["batches"]] == [0, 1]
    assert [(e["input_code"], e["output_code"]) for e in body["edges"]] == [
        (lineage.code[lineage.hulled], lineage.code[lineage.packaged])
    ], "edges leading out of the returned batches are dropped"


def test_unknown_batch_is_a_404_problem(world: World, lineage: Lineage) -> None:
    for ident in ("00000000-0000-0000-0000-000000000000", "ZZZZZZZZZ", "not a code"):
        response = world.client.get(f"/api/v1/batches/{ident}/trace")
        assert_problem(response, 404, slug="not-found", what=f"tracing {ident!r}")


def test_bad_direction_or_limit_is_a_422_problem(world: World, lineage: Lineage) -> None:
    code = lineage.code[lineage.packaged]
    response = world.client.get(f"/api/v1/batches/{code}/trace?direction=sideways")
    body = assert_problem(response, 422, slug="invalid-input", what="direction=sideways")
    assert "direction" in body["detail"]
    response = world.client.get(f"/api/v1/batches/{code}/trace?limit=0")
    assert_problem(response, 422, slug="invalid-input", what="limit=0")
