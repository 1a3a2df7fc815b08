"""The trace benchmark's data: a seeded, supply-chain-like lineage graph (clusters of ~200
batches, harvests as roots, processing records of 1-3 inputs into 1-3 outputs, at most 20
steps deep) and the rows of ``organizations``, ``products``, ``records``, ``batches``,
``batch_inputs`` and ``record_batches`` that hold it, synthetic but full-sized."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from registry.codes import ALPHABET, check_character
from registry.records.schema import RECORD_PAYLOAD_TYPE

SEED = 20261121
CLUSTER = 200  # batches per supply cluster
MAX_LEVEL = 20  # processing steps from a harvest, at most
WINDOW = 12  # a processing record draws its inputs from the cluster's newest batches
HARVEST_SHARE = 0.35
CROSS_CLUSTER = 0.03  # share of processing records that also take an earlier cluster's batch
EXTRA_KINDS = ("certificate", "inspection", "storage", "shipping", "receiving", "packing")
ORGS = 40
PRODUCTS = 120


def batch_code(i: int) -> str:
    """A valid public code (Crockford base32 body, Luhn mod 32 check) for batch ``i``."""
    body = ""
    for _ in range(8):
        body = ALPHABET[i % 32] + body
        i //= 32
    return body + check_character(body)


# --- the graph -------------------------------------------------------------------------------


@dataclass
class Graph:
    levels: list[int] = field(default_factory=list)
    # One per creating record, in log order: (input batches, output batches).
    events: list[tuple[list[int], list[int]]] = field(default_factory=list)
    created_by: list[int] = field(default_factory=list)  # event (= log index) per batch

    @property
    def size(self) -> int:
        return len(self.levels)


def build_graph(batches: int, rng: random.Random) -> Graph:
    graph = Graph()
    clusters: list[list[int]] = []
    while graph.size < batches:
        members: list[int] = []
        target = min(CLUSTER, batches - graph.size)
        while len(members) < target:
            eligible = [m for m in members[-WINDOW:] if graph.levels[m] < MAX_LEVEL]
            if not eligible or rng.random() < HARVEST_SHARE:
                new = graph.size
                graph.levels.append(0)
                graph.created_by.append(len(graph.events))
                graph.events.append(([], [new]))
                members.append(new)
                continue
            inputs = rng.sample(eligible, min(len(eligible), rng.choice((1, 1, 1, 2, 2, 3))))
            if clusters and rng.random() < CROSS_CLUSTER:
                other = [m for m in rng.choice(clusters[-5:]) if graph.levels[m] < MAX_LEVEL]
                if other:
                    inputs.append(rng.choice(other))
            level = max(graph.levels[i] for i in inputs) + 1
            outputs = list(
                range(graph.size, graph.size + min(target - len(members), rng.choice((1, 1, 2, 3))))
            )
            for _ in outputs:
                graph.levels.append(level)
                graph.created_by.append(len(graph.events))
            graph.events.append((inputs, outputs))
            members.extend(outputs)
        clusters.append(members)
    return graph


# --- rows ------------------------------------------------------------------------------------


PAYLOAD = (
    b'{"batches":["00000000-0000-0000-0000-000000000000:LOT"],"kind":"storage",'
    b'"location":"\xe8\xb5\xa4\xe5\xb3\xb0\xe5\xb8\x82\xe5\x86\xb7\xe5\xba\x93 3 \xe5\x8f\xb7",'
    b'"note":"synthetic record for the trace benchmark","org":"00000000-0000-0000-0000-'
    b'000000000000","place":{"lat":"42.29","lon":"119.92","name":"\xe6\x95\x96\xe6\xb1\x89'
    b'\xe6\x97\x97","region":"150430"},"prev":{"00000000-0000-0000-0000-000000000000:LOT":'
    b'"0000000000000000000000000000000000000000000000000000000000000000"},"readings":[{'
    b'"celsius":"4.5","time":"2026-09-20T08:00:00+08:00"},{"celsius":"4.7","time":"2026-'
    b'09-20T12:00:00+08:00"}],"time":"2026-09-20T08:00:00+08:00"}'
)
LEAF = b"x" * 220
SIGNATURES = [{"keyid": "a" * 64, "sig": "b" * 88}]


@dataclass
class Dataset:
    graph: Graph
    org_ids: list[uuid.UUID]
    product_ids: list[uuid.UUID]
    product_org: list[int]
    batch_ids: list[uuid.UUID]
    extra_batch: list[int]  # per extra record (after the creating ones): its batch
    start: datetime

    @property
    def records(self) -> int:
        return len(self.graph.events) + len(self.extra_batch)


def dataset(batches: int, records: int) -> Dataset:
    """The seeded supply chain of ``batches`` batches, padded to ``records`` records."""
    rng = random.Random(SEED)
    graph = build_graph(batches, rng)
    extras = max(0, records - len(graph.events))
    return Dataset(
        graph=graph,
        org_ids=[uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(ORGS)],
        product_ids=[uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(PRODUCTS)],
        product_org=[rng.randrange(ORGS) for _ in range(PRODUCTS)],
        batch_ids=[uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(graph.size)],
        extra_batch=[rng.randrange(graph.size) for _ in range(extras)],
        start=datetime(2026, 1, 1, tzinfo=UTC),
    )


def org_rows(data: Dataset) -> Iterator[dict[str, Any]]:
    for i, org_id in enumerate(data.org_ids):
        yield {
            "id": org_id,
            "kind": "cooperative" if i % 2 else "processor",
            "name_zh": f"合作社 {i}",
            "name_en": f"Organization {i}",
            "region_code": "150430",
            "gln": None,
            "jurisdiction": None,
            "approvals_required": 1,
            "created_at": data.start,
        }


def product_rows(data: Dataset) -> Iterator[dict[str, Any]]:
    for i, product_id in enumerate(data.product_ids):
        yield {
            "id": product_id,
            "organization_id": data.org_ids[data.product_org[i]],
            "name_zh": f"产品 {i}",
            "name_en": f"Product {i}",
            "category": "grain",
            "gtin": None,
            "standard_ref": "",
            "created_at": data.start,
        }


def _product_of(data: Dataset, batch: int) -> int:
    return (batch * 7919) % PRODUCTS


def record_rows(data: Dataset) -> Iterator[dict[str, Any]]:
    graph = data.graph
    creating = len(graph.events)
    for index in range(data.records):
        if index < creating:
            inputs, outputs = graph.events[index]
            kind = "processing" if inputs else "harvest"
            batch = outputs[0]
        else:
            batch = data.extra_batch[index - creating]
            kind = EXTRA_KINDS[index % len(EXTRA_KINDS)]
        when = data.start + timedelta(seconds=index * 20)
        yield {
            "log_index": index,
            "digest": hashlib.sha256(index.to_bytes(8, "big")).hexdigest(),
            "kind": kind,
            "payload_type": RECORD_PAYLOAD_TYPE,
            "payload": PAYLOAD,
            "signatures": SIGNATURES,
            "leaf": LEAF,
            "organization_id": data.org_ids[data.product_org[_product_of(data, batch)]],
            "record_time": when,
            "logged_at": when,
            "corrects": None,
        }


def batch_rows(data: Dataset) -> Iterator[dict[str, Any]]:
    graph = data.graph
    for i, batch_id in enumerate(data.batch_ids):
        product = _product_of(data, i)
        yield {
            "id": batch_id,
            "code": batch_code(i),
            "product_id": data.product_ids[product],
            "lot": f"L{i}",
            "quantity": "1000",
            "remaining": "1000",
            "unit": "kg",
            "origin_org_id": data.org_ids[data.product_org[product]],
            "holder_org_id": data.org_ids[data.product_org[product]],
            "carrier_org_ids": [],
            "destination_org_id": None,
            "lab_org_ids": [],
            "region_code": "150430",
            "lat": None,
            "lon": None,
            "harvest_date": None,
            "best_before": None,
            "created_index": graph.created_by[i],
            "head_digest": "0" * 64,
            "recall_digest": "f" * 64 if i % 97 == 0 else None,
        }


def edge_rows(data: Dataset) -> Iterator[dict[str, Any]]:
    for index, (inputs, outputs) in enumerate(data.graph.events):
        for source in inputs:
            for target in outputs:
                yield {
                    "input_batch_id": data.batch_ids[source],
                    "output_batch_id": data.batch_ids[target],
                    "record_index": index,
                    "quantity": "10",
                }


def record_batch_rows(data: Dataset) -> Iterator[dict[str, Any]]:
    for index, (inputs, outputs) in enumerate(data.graph.events):
        for role, members in (("input", inputs), ("output", outputs)):
            for batch in members:
                yield {
                    "record_index": index,
                    "batch_id": data.batch_ids[batch],
                    "role": role if inputs else "subject",
                    "prev_digest": None,
                }
    creating = len(data.graph.events)
    for offset, batch in enumerate(data.extra_batch):
        yield {
            "record_index": creating + offset,
            "batch_id": data.batch_ids[batch],
            "role": "subject",
            "prev_digest": None,
        }
