"""The printable certificate of a demonstration unit (示范单位证书), as a one-page A4 PDF drawn
with reportlab: the title, the unit, the number, the dates, the issuing body, a QR code to the
public verification page and the hash of the event that certified the unit, by which an auditor
finds that event in the registry's stream (`huigong audit`).

The Chinese text is set in a TrueType font from the machine (settings: `certificate_font`),
embedded as a subset, so the PDF reads the same on a computer without Chinese fonts.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

ISSUER: Final = "青岛市总工会"
_FONT: Final = "HuigongCertificate"
_RED: Final = HexColor("#B22222")
_INK: Final = HexColor("#222222")
_GREY: Final = HexColor("#666666")


class FontMissing(RuntimeError):
    """The configured font cannot be read: the PDF cannot be set in Chinese."""


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    certificate_no: str
    unit_name: str
    title: str
    certified_on: date
    valid_until: date
    event_hash: str


def _chinese(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


_registered: set[Path] = set()


def _register(font: Path) -> None:
    # reportlab keeps registered fonts for the process; a font read once is read for good.
    if font in _registered:
        return
    try:
        pdfmetrics.registerFont(TTFont(_FONT, str(font), subfontIndex=0))
    except Exception as error:  # reportlab raises TTFError, OSError or struct errors alike
        raise FontMissing(f"cannot read the certificate font {font}: {error}") from error
    _registered.add(font)


def certificate_pdf(facts: CertificateFacts, *, verify_url: str, font: Path) -> bytes:
    """One A4 landscape page; raises FontMissing when `font` cannot be read."""
    _register(font)
    out = io.BytesIO()
    width, height = landscape(A4)
    page = Canvas(out, pagesize=(width, height), pageCompression=1)
    page.setTitle(f"{facts.title} 证书 {facts.certificate_no}")
    page.setAuthor(ISSUER)
    page.setSubject(verify_url)

    page.setStrokeColor(_RED)
    page.setLineWidth(6)
    page.rect(28, 28, width - 56, height - 56)
    page.setLineWidth(1.5)
    page.rect(40, 40, width - 80, height - 80)

    page.setFillColor(_RED)
    page.setFont(_FONT, 44)
    page.drawCentredString(width / 2, height - 120, "证  书")

    page.setFillColor(_INK)
    page.setFont(_FONT, 22)
    page.drawCentredString(width / 2, height - 185, facts.unit_name)
    page.setFont(_FONT, 16)
    page.drawCentredString(width / 2, height - 225, "经审核，达到创建标准，被认定为")
    page.setFillColor(_RED)
    page.setFont(_FONT, 26)
    page.drawCentredString(width / 2, height - 270, facts.title)

    page.setFillColor(_INK)
    page.setFont(_FONT, 13)
    left = 90
    for offset, line in enumerate(
        (
            f"证书编号：{facts.certificate_no}",
            f"认定日期：{_chinese(facts.certified_on)}",
            f"有效期至：{_chinese(facts.valid_until)}",
        )
    ):
        page.drawString(left, 190 - 24 * offset, line)

    page.setFont(_FONT, 18)
    page.drawRightString(width - 240, 150, ISSUER)
    page.setFont(_FONT, 13)
    page.drawRightString(width - 240, 124, _chinese(facts.certified_on))

    size = 110
    code = QrCodeWidget(verify_url, barLevel="M")
    x0, y0, x1, y1 = code.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(code)
    renderPDF.draw(drawing, page, width - 200, 100)
    page.setFont(_FONT, 9)
    page.setFillColor(_GREY)
    page.drawCentredString(width - 145, 92, "扫码核验证书状态")

    page.setFont(_FONT, 7.5)
    page.drawString(left, 66, f"核验地址：{verify_url}")
    page.drawString(left, 54, f"认定记录哈希（SHA-256）：{facts.event_hash}")
    page.showPage()
    page.save()
    return out.getvalue()
