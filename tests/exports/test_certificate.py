"""The printable 承诺达标合格证: an HTML page with a print stylesheet and a one-page PDF, both
carrying the batch's package-label QR and the certificate record's log index."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from registry.exports.certificate import label_url
from registry.i18n import gettext_for, pgettext_for
from registry.models import Account, Batch
from registry.records import ingest as record_ingest
from tests.exports.conftest import PROBLEM_JSON, Registry


@pytest.fixture
def demo(shared_demo: Registry) -> Registry:
    """The tests here only read the demo registry: load it once per module and backend."""
    return shared_demo


def _certificate_record(demo: Registry, lot: str) -> dict:
    code = demo.code(lot)
    records = demo.client.get(f"/api/v1/batches/{code}/records").json()
    return [r for r in records if r["kind"] == "certificate"][-1]


def _label(demo: Registry, lot: str) -> str:
    with demo.session() as session:
        batch = session.scalars(select(Batch).where(Batch.lot == lot)).one()
        return label_url(session, demo.ctx.settings.base_url, batch)


def _decode(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image)]


def _qr_of_pdf(pdf: bytes, tmp_path: Path) -> list[str]:
    """Render the page (poppler's pdftoppm) and decode what a phone would see. Without
    poppler, decode the QR image embedded in the PDF instead (and say so outside CI)."""
    if shutil.which("pdftoppm"):
        source = tmp_path / "certificate.pdf"
        source.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", "200", "-png", "-singlefile", str(source), str(tmp_path / "page")],
            check=True,
        )
        return _decode(Image.open(tmp_path / "page.png"))
    if not os.environ.get("CI"):
        pytest.skip("poppler-utils (pdftoppm) is not installed: apt-get install -y poppler-utils")
    found = []
    for image in PdfReader(io.BytesIO(pdf)).pages[0].images:
        found += _decode(Image.open(io.BytesIO(image.data)).convert("L"))
    return found


@pytest.mark.parametrize("lot", ["PY-CAKE-0610", "AH2026-001"])
def test_certificate_pdf(demo: Registry, lot: str, tmp_path: Path):
    record = _certificate_record(demo, lot)
    response = demo.client.get(f"/b/{demo.code(lot)}/certificate.pdf")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (298, 420), "an A6 page (105 × 148 mm)"
    text = reader.pages[0].extract_text()
    assert lot in text
    assert f"#{record['index']}" in text, "the certificate record's log index is printed"
    assert record["record"]["certificate_number"] in text
    assert "承诺达标合格证" in text, "Chinese is set in STSong-Light and extracts as text"
    # The labels are the text catalogue's, the same entries as the HTML certificate's.
    for label in ("食用农产品名称", "扫码查看签名记录", "承诺依据"):
        assert gettext_for("zh")(label) in text and gettext_for("en")(label) in text, label
    assert gettext_for("en")("扫码查看签名记录") == "Scan for the signed records"
    log_index = pgettext_for("en")("certificate", "日志序号")
    assert f"{log_index} #{record['index']}" in text and log_index == "Log index"
    assert b"STSong-Light" in pdf
    assert _qr_of_pdf(pdf, tmp_path) == [_label(demo, lot)], "the package-label QR decodes"


def test_certificate_page(demo: Registry):
    lot = "GF2026-001"
    code = demo.code(lot)
    record = _certificate_record(demo, lot)
    response = demo.client.get(f"/b/{code}/certificate")
    assert response.status_code == 200
    html = response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert '<link rel="stylesheet" href="/static/print.css">' in html
    assert f'data-log-index="{record["index"]}"' in html
    assert f">{lot}<" in html and record["record"]["certificate_number"] in html
    assert record["record"]["promise"] in html
    assert "<svg" in html and "data-qr-version" in html, "the QR is inline, no third party"
    assert demo.client.get(f"/B/{code.lower()}/certificate").status_code == 200
    css = demo.client.get("/static/print.css")
    assert css.status_code == 200
    assert "@media print" in css.text and "size: A6" in css.text


def test_no_certificate_no_page(demo: Registry):
    with demo.session() as session:
        clerk = session.scalars(select(Account).where(Account.username == "aohan-clerk")).one()
        millet = session.scalars(select(Batch.product_id).where(Batch.lot == "AH2026-001")).one()
        record_ingest.sign_and_submit(
            session,
            demo.ctx,
            clerk,
            {
                "kind": "harvest",
                "batches": [f"{millet}:AH2026-NEW"],
                "quantity": "10",
                "unit": "kg",
                "harvest_date": "2026-06-01",
                "place": {"region": "150430"},
            },
        )
    code = demo.code("AH2026-NEW")
    for path in (f"/b/{code}/certificate", f"/b/{code}/certificate.pdf"):
        page = demo.client.get(path)
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert "合格证" in page.text
        problem = demo.client.get(path, headers={"Accept": "application/json"})
        assert problem.status_code == 404
        assert problem.headers["content-type"].startswith(PROBLEM_JSON)
    assert demo.client.get("/b/0000000000/certificate").status_code == 404
    assert demo.client.get("/b/not-a-code/certificate.pdf").status_code == 404
