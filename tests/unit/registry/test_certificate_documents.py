"""What a certificate shows people: its standing today (a title lapses by itself when its validity
ends), the verification page in Chinese, and the printable PDF, read back as a person would: its
text, and its QR code decoded from the rendered page."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader

from huigong_registry.adapters.certificate_pdf import CertificateFacts, FontMissing, certificate_pdf
from huigong_registry.domain.verification import Standing, standing
from huigong_registry.entrypoints.http.certificate_page import certificate_page, not_found_page
from huigong_registry.settings import RegistrySettings

TODAY = date(2027, 3, 1)
FONT = RegistrySettings.model_fields["certificate_font"].default
FACTS = CertificateFacts(
    certificate_no="QDGH-2027-XF-0001",
    unit_name="青岛海大食品有限公司",
    title="青岛市职工生活幸福型企业创建示范单位",
    certified_on=date(2027, 2, 1),
    valid_until=date(2030, 1, 31),
    event_hash="ab" * 32,
)
URL = "https://huigong.example.org/api/registry/certificates/QDGH-2027-XF-0001"


@pytest.mark.parametrize(
    ("status", "valid_until", "expected"),
    [
        ("certified", date(2027, 3, 1), Standing.有效),  # the last day still counts
        ("certified", date(2027, 2, 28), Standing.已过期),
        ("suspended", date(2030, 1, 1), Standing.暂停),
        ("suspended", date(2027, 2, 28), Standing.已过期),
        ("revoked", date(2027, 2, 28), Standing.已撤销),
        ("exited", date(2030, 1, 1), Standing.已退出),
    ],
)
def test_the_standing_of_a_certificate_today(status: str, valid_until: date, expected: Standing) -> None:
    assert standing(status, valid_until, TODAY) is expected


def test_the_page_says_the_standing_in_chinese_and_escapes_what_it_shows() -> None:
    answer = {
        "certificate_no": "QDGH-2027-XF-0001",
        "unit_name": "<b>青岛海大</b>",
        "title": FACTS.title,
        "certified_on": "2027-02-01",
        "valid_until": "2027-02-28",
        "standing": "expired",
        "suspended_on": None,
    }
    page = certificate_page(answer)
    assert "已过期" in page and "该证书已超过有效期" in page and FACTS.title in page
    assert "&lt;b&gt;青岛海大&lt;/b&gt;" in page and "<b>" not in page
    assert "暂停日期" not in page  # only the dates that apply
    missing = not_found_page("<script>QDGH</script>")
    assert "未找到" in missing and "<script>" not in missing


def test_the_pdf_reads_in_chinese_and_its_qr_code_opens_the_verification_page() -> None:
    if not Path(FONT).is_file():
        pytest.fail(f"{FONT} is missing: bin/setup installs Debian's fonts-wqy-microhei")
    pdf = certificate_pdf(FACTS, verify_url=URL, font=FONT)
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    for expected in (
        FACTS.title,
        FACTS.unit_name,
        "证书编号：QDGH-2027-XF-0001",
        "认定日期：2027年2月1日",
        "有效期至：2030年1月31日",
        "青岛市总工会",
        FACTS.event_hash,
    ):
        assert expected in text, expected
    image = pypdfium2.PdfDocument(pdf)[0].render(scale=3).to_pil()
    assert [code.text for code in zxingcpp.read_barcodes(image)] == [URL]


def test_a_missing_font_is_said_plainly(tmp_path: Path) -> None:
    with pytest.raises(FontMissing):
        certificate_pdf(FACTS, verify_url=URL, font=tmp_path / "none.ttf")
