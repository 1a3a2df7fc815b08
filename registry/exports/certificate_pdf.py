"""The printable 承诺达标合格证 (producer's compliance certificate) of a batch, as a PDF.

One A6 page (105 × 148 mm), the label size of the national template (农业农村部 2019
承诺达标合格证 样式): product, quantity, producer, lot, date, the promise and its basis, and the
batch's package-label QR (the same symbol as ``/b/{code}/qr.png``). Chinese text is set in
reportlab's built-in CID font STSong-Light (Adobe-GB1; the viewer supplies the glyphs, so
nothing is downloaded or embedded); codes and numbers in Helvetica.

Its words come from the text catalogue (docs/i18n.md), the same entries as the HTML page's:
printed in Chinese with the English alongside, each label is ``_zh(msgid)`` and ``_en(msgid)``.
"""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A6
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from registry import qr
from registry.exports.certificate import CertificateView
from registry.i18n import N_, gettext_for, pgettext_for

CJK_FONT = "STSong-Light"
"""The Chinese font: reportlab's built-in CID font (Adobe-GB1), supplied by the viewer."""
LATIN_FONT = "Helvetica"
"""The font of codes, numbers and English labels."""
LATIN_BOLD = "Helvetica-Bold"
"""The font of a ticked box's mark."""
MARGIN = 7 * mm
"""The page margin (the border is drawn at half of it)."""
QR_SIZE = 30 * mm
"""The printed size of the package-label QR."""
QR_BOX = 8
"""Pixels per module of the embedded QR image: crisp when printed at 30 mm."""


_zh = gettext_for("zh")
_en = gettext_for("en")
_pzh = pgettext_for("zh")
_pen = pgettext_for("en")


REGION = N_("行政区划")
"""What the origin says without a place name, before the region code."""


def _both(message: str) -> str:
    """A heading as printed: the Chinese, then the English."""
    return f"{_zh(message)} {_en(message)}"


def _register_fonts() -> None:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_certificate_pdf(view: CertificateView, *, generated_by: str = "") -> bytes:
    """The 合格证 of ``view`` as PDF bytes: one A6 page laid out as the national template."""
    _register_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A6, pageCompression=1)
    title = _pzh("certificate", "承诺达标合格证")
    canvas.setTitle(f"{title} {view.lot}")
    canvas.setAuthor(view.producer_zh)
    canvas.setSubject(f"Producer's compliance certificate, lot {view.lot}, batch {view.batch_code}")
    canvas.setCreator(generated_by or "Guarantee Registry")
    y = _heading(canvas, view)
    y = _fields(canvas, view, y)
    y = _promise(canvas, view, y)
    _basis(canvas, view, y)
    _label(canvas, view)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _heading(canvas: Canvas, view: CertificateView) -> float:
    """The border, the title, the certificate number and a recall warning; returns y."""
    width, height = A6
    # Border, as on the printed template.
    canvas.setLineWidth(1.2)
    canvas.rect(MARGIN / 2, MARGIN / 2, width - MARGIN, height - MARGIN)

    y = height - MARGIN - 6 * mm
    canvas.setFont(CJK_FONT, 15)
    canvas.drawCentredString(width / 2, y, _pzh("certificate", "承诺达标合格证"))
    y -= 4.5 * mm
    canvas.setFont(LATIN_FONT, 7)
    canvas.drawCentredString(width / 2, y, _pen("certificate", "承诺达标合格证"))
    y -= 3.5 * mm
    canvas.drawCentredString(width / 2, y, f"No. {view.certificate_number}")
    if view.recalled:
        y -= 5 * mm
        canvas.setFillColorRGB(0.81, 0.13, 0.18)
        canvas.setFont(CJK_FONT, 10)
        warning, recalled = _zh("该批次已召回，请勿销售"), _pen("certificate", "已召回")
        canvas.drawCentredString(width / 2, y, f"{warning} {recalled}")
        canvas.setFillColorRGB(0, 0, 0)
    return float(y - 4 * mm)


def _fields(canvas: Canvas, view: CertificateView, y: float) -> float:
    """The template's fields: product, quantity, producer, origin, lot, date; returns y."""
    width, _ = A6
    label_x = MARGIN
    value_x = MARGIN + 24 * mm
    region = f"{_zh(REGION)} {view.producer_region}"
    rows = [
        (N_("食用农产品名称"), view.product_zh, view.product_en),
        (N_("数量（重量）"), f"{view.quantity} {view.unit}", None),
        (N_("生产者"), view.producer_zh, view.producer_en),
        (N_("产地"), view.place_name or region, None),
        (N_("批号"), view.lot, None),
        (N_("开具日期"), view.issued_on, None),
    ]
    text_width = width - value_x - MARGIN
    for label, value, value_en in rows:
        y -= 5 * mm
        canvas.setFont(CJK_FONT, 8)
        canvas.drawString(label_x, y, _zh(label))
        canvas.setFont(LATIN_FONT, 5.5)
        canvas.drawString(label_x, y - 2.4 * mm, _en(label))
        _value(canvas, value, value_x, y, text_width)
        if value_en:
            canvas.setFont(LATIN_FONT, 5.5)
            canvas.drawString(value_x, y - 2.4 * mm, value_en[:70])
        y -= 1.5 * mm
    return y


def _promise(canvas: Canvas, view: CertificateView, y: float) -> float:
    """The promise, wrapped the CJK way (a line may break between any two characters)."""
    width, _ = A6
    y -= 6 * mm
    canvas.setFont(CJK_FONT, 8)
    canvas.drawString(MARGIN, y, _both(N_("我承诺")))
    promise = Paragraph(
        _escape(view.promise),
        ParagraphStyle("promise", fontName=CJK_FONT, fontSize=7.5, leading=10, wordWrap="CJK"),
    )
    _, promise_height = promise.wrap(width - 2 * MARGIN, 40 * mm)
    y -= promise_height + 1.5 * mm
    promise.drawOn(canvas, MARGIN, y)
    return y


def _basis(canvas: Canvas, view: CertificateView, y: float) -> None:
    """Basis: the template's tick boxes."""
    y -= 5 * mm
    canvas.setFont(CJK_FONT, 8)
    canvas.drawString(MARGIN, y, _both(N_("承诺依据")))
    for label_zh, label_en, ticked in view.basis_labels:
        y -= 4 * mm
        canvas.rect(MARGIN + 1 * mm, y - 0.3 * mm, 2.6 * mm, 2.6 * mm)
        if ticked:
            canvas.setFont(LATIN_BOLD, 8)
            canvas.drawString(MARGIN + 1.35 * mm, y + 0.1 * mm, "X")
        canvas.setFont(CJK_FONT, 7.5)
        canvas.drawString(MARGIN + 5 * mm, y, label_zh)
        canvas.setFont(LATIN_FONT, 5.5)
        canvas.drawString(MARGIN + 5 * mm + 7.5 * len(label_zh) + 1.5 * mm, y, label_en)


def _label(canvas: Canvas, view: CertificateView) -> None:
    """The package-label QR and how to check this certificate."""
    width, _ = A6
    qr_x = width - MARGIN - QR_SIZE
    qr_y = MARGIN + 3 * mm
    png = qr.render_png(view.label_url, box_size=QR_BOX)
    canvas.drawImage(ImageReader(io.BytesIO(png)), qr_x, qr_y, QR_SIZE, QR_SIZE)
    canvas.setFont(CJK_FONT, 7)
    text_y = qr_y + QR_SIZE - 4 * mm
    canvas.drawString(MARGIN, text_y, _zh("扫码查看签名记录"))
    canvas.setFont(LATIN_FONT, 5.5)
    canvas.drawString(MARGIN, text_y - 2.6 * mm, _en("扫码查看签名记录"))
    # The codes' labels in English only, in Helvetica with the codes.
    canvas.setFont(LATIN_FONT, 7)
    batch = _pen("certificate", "批次码")
    canvas.drawString(MARGIN, text_y - 7 * mm, f"{batch} {view.batch_code}")
    log_index = _pen("certificate", "日志序号")
    canvas.drawString(MARGIN, text_y - 10.5 * mm, f"{log_index} #{view.log_index}")
    canvas.setFont("Courier", 5)
    canvas.drawString(MARGIN, text_y - 13.5 * mm, f"sha256 {view.digest[:24]}")
    canvas.drawString(MARGIN, text_y - 15.7 * mm, f"       {view.digest[24:48]}")
    canvas.drawString(MARGIN, text_y - 17.9 * mm, f"       {view.digest[48:]}")


def _value(canvas: Canvas, value: str, x: float, y: float, width: float) -> None:
    """A value in the CJK font if it has non-Latin characters, else in Helvetica (so that
    lot codes and numbers are plain, extractable Latin text)."""
    if value.isascii():
        canvas.setFont(LATIN_FONT, 9)
    else:
        canvas.setFont(CJK_FONT, 9)
    size = 9.0
    while size > 6 and canvas.stringWidth(value, canvas._fontname, size) > width:
        size -= 0.5
    canvas.setFontSize(size)
    canvas.drawString(x, y, value)
