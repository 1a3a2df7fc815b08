"""The printable 承诺达标合格证: an HTML page with a print stylesheet and a one-page PDF, both
carrying the batch's package-label QR and the certificate record's log index."""

from __future__ import annotations

import io
import os
import re
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
from registry.models import Account, Batch, SigningKey
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


SUBSET_NAME = re.compile(r"^/?[A-Z]{6}\+")
"""A subset font's name: six capitals and '+' before the font's own (ISO 32000-1 §9.6.4)."""


def _fonts(reader: PdfReader) -> list[dict]:
    """Every font the page's resources name, with its descriptor resolved."""
    resources = reader.pages[0]["/Resources"]
    fonts = resources["/Font"].get_object()
    return [fonts[name].get_object() for name in fonts]


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    """The page's text as poppler reads it (the parser most PDF readers share), else pypdf's."""
    if shutil.which("pdftotext"):
        source = tmp_path / "text.pdf"
        source.write_bytes(pdf)
        done = subprocess.run(
            ["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True
        )
        return done.stdout.decode()
    return PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


@pytest.mark.parametrize(
    ("lot", "quantity", "origin", "phone"),
    [
        # A mill's bags: the processor's own region, the quantity in bags.
        ("GF2026-001", "2800 袋", "内蒙古自治区赤峰市红山区", "0476-8825678"),
        # A cooperative's harvest: the harvest place, by name.
        ("AH2026-001", " 千克", "内蒙古自治区赤峰市敖汉旗", "0476-4301234"),
        ("PY-CAKE-0610", " 盒", "山东省济南市平阴县", "0531-87169012"),
    ],
)
def test_certificate_pdf(
    demo: Registry, lot: str, quantity: str, origin: str, phone: str, tmp_path: Path
):
    record = _certificate_record(demo, lot)
    response = demo.client.get(f"/b/{demo.code(lot)}/certificate.pdf")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (100, 70), (
        f"a 100 × 70 mm certificate, got {width} × {height} pt"
    )

    text = _pdftotext(pdf, tmp_path)
    # What the 2026 Measures (第十四条) require, each label in Chinese and English.
    for label in (
        "产品名称",
        "数量（重量）",
        "生产者名称",
        "联系电话",
        "产地",
        "开具日期",
        "承诺依据",
        "生产者签名",
        "扫码查看签名记录",
    ):
        assert gettext_for("zh")(label) in text and gettext_for("en")(label) in text, label
    for word in ("委托检测", "自我检测", "内部质量控制", "自我承诺"):
        assert word in text, f"the basis tick box {word} is missing"
    assert quantity in text, f"the quantity in Chinese words ({quantity!r}) is missing"
    assert origin in text, "产地 is printed as the region's name"
    assert phone in text and phone == record["record"]["contact_phone"]
    assert lot in text and record["record"]["certificate_number"] in text
    assert record["record"]["promise"][:12] in text
    # "Batch" and "Log index" have their Chinese too.
    for context_label, value in (("批次码", demo.code(lot)), ("日志序号", f"#{record['index']}")):
        for translate in (pgettext_for("zh"), pgettext_for("en")):
            assert f"{translate('certificate', context_label)} {value}" in text, context_label
    # The producer's signature: the signer and the key the record's signature verifies under.
    signature = record["envelope"]["signatures"][0]["keyid"]
    assert f"key {signature[:16]}" in text.replace("  ", " "), "the signing key id is printed"
    with demo.session() as session:
        signer = session.get(Account, session.get(SigningKey, signature).account_id)
        assert signer is not None and signer.name_zh in text, "the signer is named"

    # Every font is embedded, as a subset: the page reads the same wherever it is opened.
    fonts = _fonts(reader)
    assert fonts, "the page names no font"
    for font in fonts:
        name = str(font["/BaseFont"])
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, f"{name} is not embedded"
        assert SUBSET_NAME.match(name), f"{name} is not a subset"
    assert any("WenQuanYi" in str(f["/BaseFont"]) for f in fonts), "the CJK font is embedded"
    assert b"STSong" not in pdf and b"/Helvetica" not in pdf
    if shutil.which("pdffonts"):
        source = tmp_path / "fonts.pdf"
        source.write_bytes(pdf)
        listing = subprocess.run(["pdffonts", str(source)], check=True, capture_output=True)
        rows = listing.stdout.decode().splitlines()[2:]
        assert rows and all(" yes yes " in row for row in rows), "\n".join(rows)

    assert _qr_of_pdf(pdf, tmp_path) == [_label(demo, lot)], "the package-label QR decodes"


def test_certificate_pdf_refuses_without_a_font(demo: Registry, tmp_path: Path):
    """Without a TrueType CJK font the PDF is refused with the fix, never printed with
    glyphs a reader may lack."""
    from registry.errors import ConfigurationError
    from registry.exports import certificate_view
    from registry.exports.certificate_pdf import render_certificate_pdf

    with demo.session() as session:
        view = certificate_view(session, "http://127.0.0.1:8000", demo.code("AH2026-001"))
    with pytest.raises(ConfigurationError, match="is not a file"):
        render_certificate_pdf(view, font=str(tmp_path / "missing.ttf"))
    (tmp_path / "not-a-font.ttf").write_bytes(b"not a font")
    with pytest.raises(ConfigurationError, match="fonts-wqy-microhei"):
        render_certificate_pdf(view, font=str(tmp_path / "not-a-font.ttf"))


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
    assert f'data-testid="contact-phone">{record["record"]["contact_phone"]}<' in html
    assert record["envelope"]["signatures"][0]["keyid"] in html, "the signing key is shown"
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
