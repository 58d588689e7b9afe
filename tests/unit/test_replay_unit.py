"""Replay's pure parts: the as-of cut-off, filtering, table ownership and the verdict."""

from __future__ import annotations

from datetime import UTC, date, datetime

from huigong_ops import replay as replay_mod
from huigong_ops.replay import ConsumerReplay, ReplayReport, TableComparison


def test_as_of_ends_at_midnight_in_shanghai() -> None:
    cutoff = replay_mod.cutoff_of(date(2027, 6, 30))
    assert cutoff.isoformat() == "2027-07-01T00:00:00+08:00"
    assert datetime(2027, 6, 30, 15, 59, tzinfo=UTC) < cutoff
    assert not datetime(2027, 6, 30, 16, 0, tzinfo=UTC) < cutoff


def test_identifiers_are_quoted() -> None:
    assert replay_mod.quote_ident('a"b') == '"a""b"'


def test_owned_tables_come_from_the_projection_when_declared() -> None:
    class Declared:
        tables = ("b", "a")

    class Single:
        table = "counts_x"

    assert replay_mod.owned_tables(Declared()) == ["a", "b"]  # type: ignore[arg-type]
    assert replay_mod.owned_tables(Single()) == ["counts_x"]  # type: ignore[arg-type]
    assert replay_mod.owned_tables(object()) is None  # type: ignore[arg-type]


def test_verdict() -> None:
    same = TableComparison("t", 2, 2, "x", "x")
    other = TableComparison("t", 2, 2, "x", "y")
    report = ReplayReport("intake", "intake", None, None, [ConsumerReplay("c", "s", tables=[same])])
    assert report.ok and report.equal
    report.consumers[0].tables.append(other)
    assert not report.ok
    report.as_of = date(2027, 6, 30)
    assert report.ok and not report.equal
    assert report.to_json()["cutoff"] == "2027-07-01T00:00:00+08:00"
