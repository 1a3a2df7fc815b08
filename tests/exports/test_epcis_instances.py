"""Instance-level identifiers: a transformation's inputEPCList and outputEPCList (each
instance a Digital Link URI with its lot, naming its batch) are kept in the processing
record and exported back."""

from __future__ import annotations

from typing import Any

from tests.exports.conftest import (
    PROBLEM_JSON,
    Registry,
    assert_valid,
    epcis_document,
)

CAKES = "06901234567915"  # the demo's rose cakes


def _transformation(day: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": "TransformationEvent",
        "eventTime": f"2026-06-{day:02d}T08:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "bizStep": "commissioning",
        **fields,
    }


def _instances(lot: str, *serials: int) -> list[str]:
    return [f"https://id.gs1.org/01/{CAKES}/10/{lot}/21/{s}" for s in serials]


def _capture(demo: Registry, event: dict[str, Any]) -> Any:
    return demo.client.post(
        "/api/v1/epcis/capture", json=epcis_document([event]), headers=demo.token("bakery-clerk")
    )


def test_instance_level_inputs_and_outputs_are_kept_and_exported(demo: Registry, epcis_validator):
    petals = f"{demo.ctx.settings.base_url}/b/{demo.code('PY-ROSE-0521')}"
    made = _transformation(
        2,
        inputQuantityList=[{"epcClass": petals, "quantity": 10, "uom": "KGM"}],
        outputEPCList=_instances("PY-CAKE-0700", 1, 2, 3),
    )
    response = _capture(demo, made)
    assert response.status_code == 201, response.text[:1500]
    first = response.json()["records"][0]["digest"]
    # The boxes made are then repacked, two of them, into a lot of their own.
    repacked = _transformation(
        3,
        inputEPCList=_instances("PY-CAKE-0700", 1, 3),
        outputQuantityList=[
            {"epcClass": f"https://id.gs1.org/01/{CAKES}/10/PY-CAKE-0701", "quantity": 2}
        ],
    )
    response = _capture(demo, repacked)
    assert response.status_code == 201, response.text[:1500]
    second = response.json()["records"][0]["digest"]

    record = demo.client.get(f"/api/v1/records/{first}").json()["record"]
    assert record["output_items"] == made["outputEPCList"]
    [output] = record["outputs"]
    assert (output["quantity"], output["unit"], output["counted"]) == ("3", "piece", True)
    assert "counted" not in record["inputs"][0]
    record = demo.client.get(f"/api/v1/records/{second}").json()["record"]
    assert record["input_items"] == repacked["inputEPCList"]
    [consumed] = record["inputs"]
    assert (consumed["quantity"], consumed["counted"]) == ("2", True)

    exported = demo.client.get(
        "/api/v1/export/epcis", params={"batch": demo.code("PY-CAKE-0701")}
    ).json()
    assert_valid(epcis_validator, exported, "the export of instance-level transformations")
    back = {e["gr:digest"]: e for e in exported["epcisBody"]["eventList"]}
    assert back[first]["outputEPCList"] == made["outputEPCList"]
    assert "outputQuantityList" not in back[first], "the instances are the output, no more"
    assert [q["quantity"] for q in back[first]["inputQuantityList"]] == [10]
    assert back[second]["inputEPCList"] == repacked["inputEPCList"]
    assert "inputQuantityList" not in back[second]


def test_an_instance_of_a_batch_not_counted_in_pieces_needs_its_quantity(demo: Registry):
    size = demo.log_size()
    event = _transformation(
        4,
        inputEPCList=_instances("PY-CAKE-0610", 7),
        outputQuantityList=[
            {"epcClass": f"https://id.gs1.org/01/{CAKES}/10/PY-CAKE-0702", "quantity": 1}
        ],
    )
    response = _capture(demo, event)
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM_JSON
    [problem] = response.json()["errors"][0]["problems"]
    assert problem["path"] == "epcisBody.eventList[0].inputEPCList[0]"
    assert "inputQuantityList" in problem["message"]
    assert demo.log_size() == size, "nothing refused is logged"
    # With its quantity element, the instance says which boxes of it were used.
    event["inputQuantityList"] = [
        {"epcClass": f"https://id.gs1.org/01/{CAKES}/10/PY-CAKE-0610", "quantity": 1}
    ]
    response = _capture(demo, event)
    assert response.status_code == 201, response.text[:1500]
    [record] = response.json()["records"]
    assert record["kind"] == "processing"
