"""The verification page a citizen sees after scanning a certificate's QR code or typing its
number: plain HTML in Chinese, styled inline, with nothing loaded from anywhere (the page must
work on any phone, from any network)."""

from __future__ import annotations

from html import escape
from typing import Any, Final

from ...domain.verification import Standing

# Nothing but this page's own inline style may run or load.
PAGE_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Vary": "Accept",
}

_COLOURS: Final = {
    Standing.有效: "#1a7f37",
    Standing.暂停: "#b35900",
    Standing.已撤销: "#b22222",
    Standing.已过期: "#666666",
    Standing.已退出: "#666666",
}
_MEANINGS: Final = {
    Standing.有效: "该证书真实有效，称号在有效期内。",
    Standing.暂停: "该称号因出现须核查的情况已暂停，正在审查中。",
    Standing.已撤销: "该称号已被撤销，证书不再有效。",
    Standing.已过期: "该证书已超过有效期。",
    Standing.已退出: "该单位已退出，证书不再有效。",
}

_STYLE: Final = """
body{margin:0;font-family:"Noto Sans SC","PingFang SC","Microsoft YaHei",sans-serif;background:#f5f5f5;color:#222}
main{max-width:36rem;margin:2rem auto;background:#fff;border-radius:8px;padding:1.5rem 2rem;
box-shadow:0 1px 4px rgba(0,0,0,.1)}
h1{font-size:1.25rem;margin:0 0 1rem}
.standing{display:inline-block;color:#fff;font-size:1.5rem;font-weight:bold;padding:.25rem 1rem;border-radius:4px}
dl{display:grid;grid-template-columns:7rem 1fr;gap:.5rem 1rem;margin:1.5rem 0}
dt{color:#666}dd{margin:0;word-break:break-all}
footer{color:#888;font-size:.8rem;margin-top:1rem}
"""


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}<footer>青岛市总工会 · 示范单位证书核验</footer></main></body></html>"
    )


def certificate_page(answer: dict[str, Any]) -> str:
    """`answer` is the JSON answer of the verification, whose fields the page shows."""
    standing = Standing(answer["standing"])
    rows = [
        ("证书编号", answer["certificate_no"]),
        ("单位名称", answer["unit_name"]),
        ("称号", answer["title"]),
        ("认定日期", answer["certified_on"]),
        ("有效期至", answer["valid_until"]),
        ("暂停日期", answer.get("suspended_on")),
        ("撤销日期", answer.get("revoked_on")),
        ("退出日期", answer.get("exited_on")),
    ]
    listed = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in rows if v)
    body = (
        "<h1>示范单位证书核验</h1>"
        f'<p><span class="standing" style="background:{_COLOURS[standing]}">{escape(standing.label)}</span></p>'
        f"<p>{escape(_MEANINGS[standing])}</p><dl>{listed}</dl>"
    )
    return _document(f"证书核验：{standing.label} · {answer['certificate_no']}", body)


def not_found_page(number: str) -> str:
    body = (
        "<h1>示范单位证书核验</h1>"
        '<p><span class="standing" style="background:#444">未找到</span></p>'
        f"<p>没有编号为 {escape(number[:60])} 的证书。请核对证书上的编号，或扫描证书上的二维码。</p>"
    )
    return _document("证书核验：未找到", body)
