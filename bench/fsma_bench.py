"""The FSMA 204 sortable spreadsheet of a large registry: ``bench.trace_data``'s supply chain
(its batches, lineage and record counts), its supply-chain records given real payloads of
their kind and spread over one year, products with GTINs; then the sheet of the whole year
for one product and for every product, timed: the rows alone, and the rows written as they
are read to a CSV and to an XLSX file.

    python -m bench.fsma_bench [RECORDS] [--postgresql URL | --db SQLITE_FILE]

``--db`` keeps the registry in that file and loads it only if the file does not exist yet,
so that the sheets can be timed again on the same data.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from bench import trace_data
from bench.progress import say
from registry.db import insert_rows, make_engine, make_session_factory, transaction, upgrade
from registry.exports.fsma204 import iter_fsma204_rows, write_fsma204
from registry.gs1 import gtin_check_digit
from registry.models import (
    Batch,
    BatchInput,
    Checkpoint,
    Organization,
    Product,
    Record,
    RecordBatch,
)

YEAR = timedelta(days=365)


def gtin(i: int) -> str:
    body = f"0690{i:09d}"
    return body + gtin_check_digit(body)


def _ref(data: trace_data.Dataset, batch: int) -> str:
    product = (batch * 7919) % trace_data.PRODUCTS  # trace_data._product_of
    return f"{data.product_ids[product]}:L{batch}"


def _payload(data: trace_data.Dataset, index: int, kind: str, when: str) -> bytes | None:
    creating = len(data.graph.events)
    if index < creating:
        inputs, outputs = data.graph.events[index]
    else:
        inputs, outputs = [], [data.extra_batch[index - creating]]
    refs = [_ref(data, b) for b in outputs]
    place = {"region": "150430", "name": "敖汉旗"}
    doc: dict[str, Any] = {"kind": kind, "batches": refs, "time": when, "place": place}
    if kind == "harvest":
        doc.update(quantity="1000", unit="kg")
    elif kind == "processing":
        doc["batches"] = [_ref(data, b) for b in inputs] + refs
        doc["inputs"] = [{"batch": _ref(data, b), "quantity": "10"} for b in inputs]
        doc["outputs"] = [{"batch": r, "quantity": "100", "unit": "kg"} for r in refs]
    elif kind == "packing":
        doc["package"] = {"size": "5", "count": 20, "unit": "kg"}
    elif kind == "shipping":
        doc.update(quantity="100", unit="kg", waybill=f"WB-{index}")
        doc["to"] = {"name": "北京新发地市场", "place": {"region": "110106"}}
    elif kind == "receiving":
        doc.update(quantity="100", unit="kg", waybill=f"WB-{index - 1}")
        doc["source"] = {"name": "敖汉旗合作社", "place": {"region": "150430"}}
    else:
        return None  # not a critical tracking event: the trace benchmark's payload stays
    return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()


def record_rows(data: trace_data.Dataset) -> Iterator[dict[str, Any]]:
    """``trace_data.record_rows`` over one year, each supply-chain record with its payload."""
    step = YEAR / data.records
    for row in trace_data.record_rows(data):
        when = data.start + step * row["log_index"]
        payload = _payload(data, row["log_index"], row["kind"], when.isoformat())
        yield {**row, "record_time": when, "logged_at": when, "payload": payload or row["payload"]}


def product_rows(data: trace_data.Dataset) -> Iterator[dict[str, Any]]:
    for i, row in enumerate(trace_data.product_rows(data)):
        yield {**row, "gtin": gtin(i)}


def load(engine: Engine, data: trace_data.Dataset, chunk: int = 20_000) -> float:
    """Write the registry's rows (COPY on PostgreSQL); seconds taken."""
    started = time.perf_counter()
    tables: list[tuple[Any, Iterator[dict[str, Any]]]] = [
        (Organization.__table__, trace_data.org_rows(data)),
        (Product.__table__, product_rows(data)),
        (Record.__table__, record_rows(data)),
        (Batch.__table__, trace_data.batch_rows(data)),
        (BatchInput.__table__, trace_data.edge_rows(data)),
        (RecordBatch.__table__, trace_data.record_batch_rows(data)),
    ]
    for table, rows in tables:
        say(f"fsma: loading {table.name}")
        with engine.begin() as connection:
            batch: list[dict[str, Any]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == chunk:
                    insert_rows(connection, table, batch)
                    batch = []
            if batch:
                insert_rows(connection, table, batch)
    with engine.begin() as connection:  # every record inside the latest checkpoint
        insert_rows(
            connection,
            Checkpoint.__table__,  # type: ignore[arg-type]
            [
                {
                    "size": data.records,
                    "root_hash": hashlib.sha256(b"bench").digest(),
                    "note": "",
                    "created_at": data.start + YEAR,
                }
            ],
        )
    return time.perf_counter() - started


def _timed(run: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    value = run()
    return value, round(time.perf_counter() - started, 2)


def bench_sheets(url: str, data: trace_data.Dataset, workdir: Path) -> dict[str, Any]:
    """Time the one-year sheet for one product and for all: the rows alone (read, made and
    dropped), then CSV and XLSX files written as the rows are read (each time from the
    database again: what an export costs)."""
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        since, until = data.start.date().isoformat(), (data.start + YEAR).date().isoformat()
        filters = {"since": since, "until": until, "base_url": "https://x"}
        out: dict[str, Any] = {"records": data.records, "since": since, "until": until}
        with transaction(factory) as session:
            product = session.scalars(select(Product.gtin).order_by(Product.gtin)).first()
        for name, chosen in (("one_product", product), ("all_products", None)):
            with transaction(factory) as session:
                rows, rows_s = _timed(
                    lambda chosen=chosen: sum(
                        1 for _ in iter_fsma204_rows(session, product=chosen, **filters)
                    )
                )
            result: dict[str, Any] = {"rows": rows, "rows_s": rows_s}
            for file_format in ("csv", "xlsx"):
                path = workdir / f"{name}.{file_format}"
                with transaction(factory) as session, path.open("wb") as sheet:
                    _, seconds = _timed(
                        lambda chosen=chosen, sheet=sheet, file_format=file_format: write_fsma204(
                            session, file_format, sheet, product=chosen, **filters
                        )
                    )
                result[f"{file_format}_s"] = seconds
                result[f"{file_format}_mb"] = round(path.stat().st_size / 1e6, 1)
                path.unlink()
            # rows and XLSX together: the XLSX time already includes reading the rows
            result["total_xlsx_s"] = result["xlsx_s"]
            out[name] = result
            say(f"fsma: {name} {result}")
        return out
    finally:
        engine.dispose()


def run(
    records: int, workdir: Path, url: str | None = None, db: Path | None = None
) -> dict[str, Any]:
    """A fresh registry of ``records`` records (SQLite in ``workdir`` unless ``url``), or the
    SQLite file ``db``, loaded only if it does not exist yet."""
    workdir.mkdir(parents=True, exist_ok=True)
    fresh = db is None or not db.exists()
    url = url or f"sqlite:///{db or workdir / 'fsma.db'}"
    data = trace_data.dataset(max(records // 10, 200), records)
    seconds = 0.0
    if fresh:
        upgrade(url)
        engine = make_engine(url)
        try:
            seconds = load(engine, data)
        finally:
            engine.dispose()
    return {"load_s": round(seconds, 1), **bench_sheets(url, data, workdir)}


def main(argv: list[str]) -> int:
    records = int(argv[0]) if argv and argv[0].isdigit() else 100_000
    url = argv[argv.index("--postgresql") + 1] if "--postgresql" in argv else None
    db = Path(argv[argv.index("--db") + 1]) if "--db" in argv else None
    with tempfile.TemporaryDirectory(prefix="registry-fsma-") as tmp:
        print(json.dumps(run(records, Path(tmp), url, db), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
