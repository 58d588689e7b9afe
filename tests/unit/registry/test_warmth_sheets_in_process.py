"""送温暖 delivery sheets through the registry's real app on the in-memory store: a sheet as an
office makes it (a title above the headings, synonyms for the columns), each row recorded as a
delivery or refused with its reason beside it, the result sheet, the same file sent again with
the same key recording nothing twice, and the template. Neither PostgreSQL nor Kafka."""

from __future__ import annotations

import csv
import io

import httpx
from openpyxl import load_workbook

from huigong_platform.workbooks import XLSX_MEDIA_TYPE

from .test_warmth_in_process import CITY, DISTRICT, PHONE, YEAR, World, key, world

__all__ = ["world"]

UPLOAD = "/warmth/deliveries/upload"
# Offices' own headings: synonyms, a hint in brackets, a 序号 column the registry ignores.
HEADINGS = [
    "序号",
    "会员标识",
    "受助人姓名",
    "手机号码",
    "慰问类别",
    "节日",
    "慰问形式",
    "金额（元）",
    "慰问日期",
    "佐证编号",
    "重复原因",
]


def sheet(rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["市南区总工会送温暖发放名单"])
    writer.writerow([])
    writer.writerow(HEADINGS)
    writer.writerows(rows)
    # GBK, as Excel in a Chinese locale saves CSV.
    return out.getvalue().encode("gbk")


async def upload(world: World, content: bytes, idempotency: dict[str, str], **headers: str) -> httpx.Response:
    files = {"file": ("送温暖名单.csv", content, "text/csv")}
    return await world.client.post(UPLOAD, files=files, headers={**DISTRICT, **idempotency, **headers})


async def test_each_row_is_recorded_or_refused_with_its_reason(world: World) -> None:
    first, second, third = [await world.enrol(label) for label in ("s1", "s2", "s3")]
    await world.budget(3000, 1000)
    rows: list[list[object]] = [
        [1, first, "刘桂兰", PHONE, "重要节点", "春节", "慰问金", "500", f"{YEAR}/1/20", "QD-01", ""],
        [2, second, "王强", PHONE, "重大疾病", "", "慰问金", "1500元", f"{YEAR}年1月21日", "QD-02", ""],
        # The same member and festival again, without a reason: refused; with one: flagged.
        [3, first, "刘桂兰", PHONE, "重要节点", "春节", "实物", "300", f"{YEAR}-01-22", "QD-03", ""],
        [4, first, "刘桂兰", PHONE, "重要节点", "春节", "实物", "300", f"{YEAR}-01-22", "QD-04", "家中失火"],
        # 500 + 1500 + 300 of 3000 drawn: 700 remain.
        [5, third, "张伟", PHONE, "遇到困难", "", "慰问金", "800", f"{YEAR}-01-23", "QD-05", ""],
        [6, third, "张伟", PHONE, "遇到困难", "", "慰问金", "200", "上周", "QD-06", ""],
        [7, "f" * 64, "李四", PHONE, "遇到困难", "", "慰问金", "100", f"{YEAR}-01-23", "QD-07", ""],
        [8, third, "张伟", PHONE, "遇到困难", "", "慰问金", "700", f"{YEAR}-01-24", "QD-08", ""],
    ]
    idempotency = key()
    answer = await upload(world, sheet(rows), idempotency)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # Rows as Excel numbers them: a title, a blank line and the headings above the first.
    recorded = {row["row"]: row for row in body["recorded"]}
    refused = {row["row"]: {e["field"]: e for e in row["errors"]} for row in body["refused"]}
    assert sorted(recorded) == [4, 5, 7, 11] and sorted(refused) == [6, 8, 9, 10]
    assert recorded[5]["status"] == "pending" and recorded[5]["status_label"] == "待审批"
    assert recorded[7]["repeat"] is True and recorded[4]["repeat"] is False
    assert "再次记录须说明原因" in refused[6]["重复说明"]["zh"]
    assert "剩余 700 元" in refused[8]["金额"]["zh"] and "700 yuan remain" in refused[8]["金额"]["en"]
    assert set(refused[9]) == {"送温暖日期"}
    assert refused[10]["成员标识"]["zh"] == "没有该成员"
    fund = world.fund()
    assert (fund.drawn, fund.remaining) == (3000, 0)
    assert len(fund.deliveries) == 4

    # The same file with the same key: nothing recorded twice.
    again = await upload(world, sheet(rows), idempotency)
    assert {row["row"]: row["delivery_id"] for row in again.json()["recorded"]} == {
        row: recorded[row]["delivery_id"] for row in recorded
    }
    assert len(world.fund().deliveries) == 4

    # The result sheet: every line in its place, 结果 and 原因 beside each row.
    result = await upload(world, sheet(rows), idempotency, Accept=XLSX_MEDIA_TYPE)
    assert result.status_code == 200 and result.headers["content-type"] == XLSX_MEDIA_TYPE
    workbook = load_workbook(io.BytesIO(result.content))
    lines = list(workbook["报送结果"].iter_rows(values_only=True))
    row = {number: lines[number - 1] for number in range(1, len(lines) + 1)}  # as Excel numbers them
    assert row[3][-2:] == ("结果", "原因")
    assert row[4][-2] == "已记录" and row[4][1] == first
    assert row[5][-2:] == ("已记录", "待市总工会审批")
    assert row[7][-2:] == ("已记录", "重复送温暖（已说明原因）")
    # A refused row is tried again with the file: row 8 is now a repeat of row 11 recorded above.
    assert row[8][-2] == "未记录" and str(row[8][-1]).startswith("重复说明：该成员本期已因同一时机获送温暖")
    assert row[9][-2] == "未记录" and str(row[9][-1]).startswith("送温暖日期：")
    summary = dict(workbook["汇总"].iter_rows(values_only=True))
    assert summary["已记录"] == 4 and summary["未记录"] == 4


async def test_a_sheet_without_the_required_columns_is_refused_whole(world: World) -> None:
    content = "会员标识,姓名\n" + "a" * 64 + ",刘桂兰\n"
    answer = await upload(world, content.encode(), key())
    assert answer.status_code == 422
    (error,) = answer.json()["errors"]
    assert error["field"] == "file" and "缺少必需的列" in error["zh"] and "联系电话" in error["zh"]


async def test_only_unions_upload_and_the_city_downloads_the_template(world: World) -> None:
    files = {"file": ("x.csv", sheet([]), "text/csv")}
    refused = await world.client.post(UPLOAD, files=files, headers={**CITY, **key()})
    assert refused.status_code == 403
    template = await world.client.get("/warmth/deliveries/template", headers=DISTRICT)
    assert template.status_code == 200 and template.headers["content-type"] == XLSX_MEDIA_TYPE
    workbook = load_workbook(io.BytesIO(template.content))
    assert workbook.sheetnames[0] == "送温暖发放名单"
    headings = next(workbook["送温暖发放名单"].iter_rows(values_only=True))
    assert headings[:3] == ("成员标识", "姓名", "联系电话")
    assert "填写说明" in workbook.sheetnames
