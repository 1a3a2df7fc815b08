"""The printable 承诺达标合格证 (producer's compliance certificate) of a batch, as a PDF.

What it carries follows 《农产品质量安全承诺达标合格证管理办法》 (农业农村部令 2025 年第 4 号,
in force 2026-02-01, 第十四条): the product's name, its quantity (weight) with the unit,
the producer's name and contact phone, 产地 (the place, by name), the date it was issued,
the promise and what it rests on (委托检测 / 自我检测 / 内部质量控制 / 自我承诺), and the
producer's signature; plus the batch's package-label QR (the same symbol as
``/b/{code}/qr.png``), its code and the certificate record's log index and digest, so a
printed label leads to the signed record.

The page is 100 × 70 mm, landscape: the Measures prescribe the content, not a size, and the
provinces' printed and thermal-printer certificates are label stock of about this size (the
national reference style of 农质管函〔2020〕178号 fits on it). Labels are Chinese with the
English beneath.

Every character is set in one TrueType CJK font, embedded as a subset (only the glyphs the
page uses, ~30 kB), so the certificate reads the same on any phone or printer: WenQuanYi
Micro Hei (Debian ``fonts-wqy-microhei``, Apache 2.0 / GPLv3 with the font exception), or
the TrueType/TTC file ``REGISTRY_CJK_FONT`` names. reportlab embeds only TrueType outlines,
which is why the CFF-based Noto/Source Han fonts are not used; PyPI ships no TrueType CJK
font worth depending on. Without a font the PDF is refused with the install command, never
printed with glyphs the reader may lack.

Its words come from the text catalogue (docs/i18n.md), the same entries as the HTML page's.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from registry import qr
from registry.errors import ConfigurationError
from registry.exports.certificate import CertificateView
from registry.i18n import N_, gettext_for, pgettext_for

PAGE = (100 * mm, 70 * mm)
"""The certificate's size: 100 × 70 mm, landscape (see the module's docstring)."""
MARGIN = 4 * mm
"""The page margin (the border is drawn at half of it)."""
QR_SIZE = 25 * mm
"""The printed size of the package-label QR (over 0.6 mm a module at version 4)."""
QR_BOX = 8
"""Pixels per module of the embedded QR image: crisp when printed at 25 mm."""

FONT = "CertificateCJK"
"""The embedded font's name in the PDF (reportlab adds the subset's ``AAAAAA+`` prefix)."""
MONO = "CertificateCJKMono"
"""The same family's monospaced face, for key ids and digests (when the file has one)."""


@dataclass(frozen=True)
class FontFile:
    """A TrueType font file (TTF, or TTC with ``index`` naming the face) and, in a TTC, the
    index of a monospaced face of the same family (None: use the proportional one)."""

    path: Path
    index: int = 0
    mono_index: int | None = None


KNOWN_FONTS = (
    FontFile(Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0, 1),
    FontFile(Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0, 1),
    FontFile(Path("/usr/share/fonts/truetype/arphic/uming.ttc"), 0, None),
)
"""Where Debian puts TrueType CJK fonts, the preferred first (fonts-wqy-microhei)."""

INSTALL_HINT = (
    "the 合格证 PDF embeds a TrueType CJK font and none was found: install one "
    "(apt-get install fonts-wqy-microhei) or set REGISTRY_CJK_FONT to a .ttf/.ttc file"
)


def find_font(configured: str = "") -> FontFile:
    """The font to embed: ``configured`` (``REGISTRY_CJK_FONT``; ``path`` or ``path#index``
    for a face of a TTC), else the first of ``KNOWN_FONTS`` present. ``ConfigurationError``
    with the install command when there is none, or the configured file is missing."""
    if configured:
        path, _, index = configured.partition("#")
        font = FontFile(Path(path), int(index) if index.isdigit() else 0, None)
        if not font.path.is_file():
            raise ConfigurationError(f"REGISTRY_CJK_FONT {path!r} is not a file")
        return font
    for font in KNOWN_FONTS:
        if font.path.is_file():
            return font
    raise ConfigurationError(INSTALL_HINT)


def _register(font: FontFile) -> tuple[str, str]:
    """Register ``font`` with reportlab (once per file and face); the names to set text in."""
    suffix = hashlib.sha256(f"{font.path}#{font.index}".encode()).hexdigest()[:12]
    name, mono = f"{FONT}-{suffix}", f"{MONO}-{suffix}"
    registered = pdfmetrics.getRegisteredFontNames()
    if name not in registered:
        try:
            pdfmetrics.registerFont(TTFont(name, str(font.path), subfontIndex=font.index))
        except Exception as exc:  # reportlab's TTFError and friends: the file is not usable
            raise ConfigurationError(
                f"{font.path} cannot be embedded ({exc}); {INSTALL_HINT}"
            ) from None
    if font.mono_index is None:
        return name, name
    if mono not in registered:
        pdfmetrics.registerFont(TTFont(mono, str(font.path), subfontIndex=font.mono_index))
    return name, mono


_zh = gettext_for("zh")
_en = gettext_for("en")
_pzh = pgettext_for("zh")
_pen = pgettext_for("en")

PRODUCT = N_("产品名称")
QUANTITY = N_("数量（重量）")
PRODUCER = N_("生产者名称")
PHONE = N_("联系电话")
ORIGIN = N_("产地")
ISSUED = N_("开具日期")
LOT = N_("批号")
PROMISE = N_("我承诺")
BASIS = N_("承诺依据")
SIGNATURE = N_("生产者签名")
SCAN = N_("扫码查看签名记录")
NOT_SIGNED_BY_KNOWN = N_("密钥")


def render_certificate_pdf(
    view: CertificateView, *, generated_by: str = "", font: str = ""
) -> bytes:
    """The 合格证 of ``view`` as PDF bytes: one 100 × 70 mm page. ``font`` is
    ``REGISTRY_CJK_FONT`` (see ``find_font``)."""
    text_font, mono_font = _register(find_font(font))
    buffer = io.BytesIO()
    # The page starts in the embedded font: no unembedded Helvetica is named in the PDF.
    canvas = Canvas(
        buffer, pagesize=PAGE, pageCompression=1, initialFontName=text_font, initialFontSize=6
    )
    title = _pzh("certificate", "承诺达标合格证")
    canvas.setTitle(f"{title} {view.lot}")
    canvas.setAuthor(view.producer_zh)
    canvas.setSubject(f"Producer's compliance certificate, lot {view.lot}, batch {view.batch_code}")
    canvas.setCreator(generated_by or "Guarantee Registry")
    page = _Page(canvas, text_font, mono_font)
    y = page.heading(view)
    y = page.fields(view, y)
    y = page.promise(view, y)
    y = page.basis(view, y)
    page.signature(view, y)
    page.label(view)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


class _Page:
    """The drawing of one certificate: left, the fields; right, the QR and the proofs."""

    def __init__(self, canvas: Canvas, font: str, mono: str) -> None:
        self.canvas = canvas
        self.font = font
        self.mono = mono
        self.width, self.height = PAGE
        self.left = MARGIN
        self.right = self.width - MARGIN - QR_SIZE - 2 * mm  # where the left column ends

    def text(self, x: float, y: float, text: str, size: float, *, mono: bool = False) -> None:
        self.canvas.setFont(self.mono if mono else self.font, size)
        self.canvas.drawString(x, y, text)

    def fitted(self, x: float, y: float, text: str, size: float, width: float) -> None:
        """``text`` at ``size`` or smaller, down to 4.5 pt, so that it fits in ``width``."""
        while size > 4.5 and self.canvas.stringWidth(text, self.font, size) > width:
            size -= 0.25
        self.text(x, y, text, size)

    def heading(self, view: CertificateView) -> float:
        """The border, the title, the certificate number and a recall warning; returns y."""
        c = self.canvas
        c.setLineWidth(1)
        c.rect(MARGIN / 2, MARGIN / 2, self.width - MARGIN, self.height - MARGIN)
        y = self.height - MARGIN - 3.6 * mm
        title = _pzh("certificate", "承诺达标合格证")
        self.text(self.left, y, title, 11)
        after = self.left + c.stringWidth(title, self.font, 11) + 2 * mm
        self.text(after, y + 0.3 * mm, _pen("certificate", "承诺达标合格证"), 5)
        number = f"No. {view.certificate_number}"
        c.setFont(self.font, 6)
        c.drawRightString(self.width - MARGIN, y, number)
        if view.recalled:
            y -= 3.8 * mm
            c.setFillColorRGB(0.81, 0.13, 0.18)
            warning, recalled = _zh("该批次已召回，请勿销售"), _pen("certificate", "已召回")
            self.text(self.left, y, f"{warning} {recalled}", 7)
            c.setFillColorRGB(0, 0, 0)
        return float(y - 1.5 * mm)

    def fields(self, view: CertificateView, y: float) -> float:
        """The fields the Measures require, each label in Chinese with the English beneath;
        returns y."""
        value_x = self.left + 17 * mm
        value_width = self.right - value_x
        rows = [
            (PRODUCT, view.product_zh, view.product_en),
            (QUANTITY, view.quantity_text("zh"), view.quantity_text("en")),
            (PRODUCER, view.producer_zh, view.producer_en),
            (PHONE, view.contact_phone or "—", None),
            (ORIGIN, view.origin("zh"), view.origin("en")),
            (ISSUED, view.issued_on, None),
            (LOT, view.lot, None),
        ]
        for label, value, value_en in rows:
            y -= 3.3 * mm
            self.text(self.left, y, _zh(label), 5.6)
            self.text(self.left, y - 1.7 * mm, _en(label), 3.6)
            self.fitted(value_x, y, value, 6.5, value_width)
            if value_en and value_en != value:
                self.fitted(value_x, y - 1.7 * mm, value_en, 3.8, value_width)
            y -= 1.9 * mm
        return y

    def promise(self, view: CertificateView, y: float) -> float:
        """The promise, wrapped the CJK way (a line may break between any two characters)."""
        y -= 3 * mm
        self.text(self.left, y, f"{_zh(PROMISE)} {_en(PROMISE)}", 5.6)
        paragraph = Paragraph(
            _escape(view.promise),
            ParagraphStyle(
                "promise", fontName=self.font, fontSize=5.2, leading=6.4, wordWrap="CJK"
            ),
        )
        _, height = paragraph.wrap(self.right - self.left, 20 * mm)
        y -= height + 0.8 * mm
        paragraph.drawOn(self.canvas, self.left, y)
        return y

    def basis(self, view: CertificateView, y: float) -> float:
        """承诺依据: the four tick boxes of the national style, on one line; returns y."""
        y -= 3.2 * mm
        label = _zh(BASIS)
        self.text(self.left, y, label, 5.6)
        x = self.left + self.canvas.stringWidth(label, self.font, 5.6) + 1.5 * mm
        for label_zh, _label_en, ticked in view.basis_labels:
            box = 2 * mm
            self.canvas.rect(x, y - 0.2 * mm, box, box)
            if ticked:
                self.canvas.setLineWidth(0.7)
                self.canvas.line(x + 0.3 * mm, y + 0.8 * mm, x + 0.8 * mm, y + 0.1 * mm)
                self.canvas.line(x + 0.8 * mm, y + 0.1 * mm, x + 1.8 * mm, y + 1.7 * mm)
                self.canvas.setLineWidth(1)
            word = label_zh.removesuffix("合格")
            self.text(x + box + 0.6 * mm, y, word, 5.2)
            x += box + 0.6 * mm + self.canvas.stringWidth(word, self.font, 5.2) + 1.8 * mm
        english = " · ".join(en for _zh_label, en, ticked in view.basis_labels if ticked)
        self.fitted(self.left, y - 2 * mm, f"{_en(BASIS)}: {english}", 3.6, self.right - self.left)
        return float(y - 2 * mm)

    def signature(self, view: CertificateView, y: float) -> None:
        """The producer's signature: who signed the record, under which key."""
        y -= 3.2 * mm
        label = _zh(SIGNATURE)
        self.text(self.left, y, label, 5.6)
        x = self.left + self.canvas.stringWidth(label, self.font, 5.6) + 1.5 * mm
        signers = view.signers or ()
        names = [
            " ".join(p for p in (s.name_zh, s.name_en) if p) or _zh(NOT_SIGNED_BY_KNOWN)
            for s in signers
        ]
        self.fitted(x, y, "、".join(names) or "—", 6, self.right - x)
        y -= 2 * mm
        self.text(self.left, y, _en(SIGNATURE), 3.6)
        for signer in signers[:2]:
            self.text(self.left + 17 * mm, y, f"Ed25519 key {signer.key_id[:16]}…", 3.8, mono=True)
            y -= 1.8 * mm

    def label(self, view: CertificateView) -> None:
        """The right column: the package-label QR, the batch code, the log index and the
        certificate record's digest."""
        qr_x = self.width - MARGIN - QR_SIZE
        qr_y = self.height - MARGIN - 6.5 * mm - QR_SIZE
        png = qr.render_png(view.label_url, box_size=QR_BOX)
        self.canvas.drawImage(ImageReader(io.BytesIO(png)), qr_x, qr_y, QR_SIZE, QR_SIZE)
        y = qr_y - 2.8 * mm
        self.text(qr_x, y, _zh(SCAN), 5.2)
        y -= 1.9 * mm
        self.fitted(qr_x, y, _en(SCAN), 3.6, QR_SIZE)
        for context_label, value in (
            ("批次码", view.batch_code),
            ("日志序号", f"#{view.log_index}"),
        ):
            y -= 3 * mm
            zh, en = _pzh("certificate", context_label), _pen("certificate", context_label)
            self.text(qr_x, y, f"{zh} {value}", 5.6)
            y -= 1.8 * mm
            self.text(qr_x, y, f"{en} {value}", 3.6)
        y -= 2.6 * mm
        self.text(qr_x, y, "sha256", 3.6, mono=True)
        for start in range(0, 64, 22):
            y -= 1.7 * mm
            self.text(qr_x, y, view.digest[start : start + 22], 3.6, mono=True)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
