"""Compliance facts with provenance (数据交换): who may report what, and when a report repeats one
already recorded.

- The reporting department is the API key's own: a key issued to `exchange:<department>` reports
  as that department only (`reported_by` must name it, 403 otherwise). The city federation
  (`city:…`) may report any fact, naming the department it relays.
- A department reports only the fact types it is competent for (`COMPETENCE`, 403 otherwise).
- An evidence reference (文号) is unique per unit, rule and department: the same reference again
  is answered with the first fact, and nothing new is recorded, so one inspection never makes
  two findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from huigong_events.forms import ReportingDepartment
from huigong_events.intake import ComplianceFactReported
from huigong_events.reference import ComplianceFactKind
from huigong_platform.refusals import FieldError, Forbidden

K = ComplianceFactKind
D = ReportingDepartment

# Which department establishes which fact, by its statutory remit.
COMPETENCE: Final[Mapping[ReportingDepartment, frozenset[ComplianceFactKind]]] = {
    # 人社: labour contracts, wages, social insurance, labour disputes.
    D.人社: frozenset({K.无劳动合同制度, K.拖欠工资, K.欠缴社保, K.群体性劳动争议}),
    # 住建: wage arrears to construction workers (根治欠薪 on building sites).
    D.住房: frozenset({K.拖欠工资}),
    D.应急: frozenset({K.重大伤亡事故}),
    D.生态环境: frozenset({K.重大环保责任事故}),
    D.市场监管: frozenset({K.重大质量事故, K.食品安全事故}),
    D.卫健: frozenset({K.职业病危害事故}),
    D.民政: frozenset(),
    # Other bodies the exchange relays: the union's own audit (dues owed) and finance (losses).
    D.其他: frozenset({K.无工会或欠经费, K.严重亏损}),
}

# Short key codes some departments' keys were issued with, besides the department's own code.
KEY_ALIASES: Final[Mapping[str, ReportingDepartment]] = {"hrss": D.人社}


def department_of_key(code: str) -> ReportingDepartment | None:
    """The department an `exchange:<code>` key speaks for, or None for a code that names none."""
    if code in KEY_ALIASES:
        return KEY_ALIASES[code]
    try:
        return ReportingDepartment(code)
    except ValueError:
        return None


def ensure_may_report(
    fact: ComplianceFactReported, key_department: ReportingDepartment | None, city: bool
) -> None:
    """Forbidden unless the key's department (or the city, relaying) may report this fact."""
    if not city:
        if key_department is None:
            raise Forbidden(
                FieldError(
                    "reported_by",
                    "该数据交换密钥未绑定报送部门，不能报送合规事实",
                    "this data-exchange key is bound to no reporting department",
                )
            )
        if fact.reported_by is not key_department:
            raise Forbidden(
                FieldError(
                    "reported_by",
                    f"报送部门须为本密钥所属的{key_department.label}，不能以{fact.reported_by.label}名义报送",
                    f"the reporting department is the key's own ({key_department.value}), "
                    f"not {fact.reported_by.value}",
                )
            )
    if fact.kind not in COMPETENCE[fact.reported_by]:
        competent = "、".join(d.label for d, kinds in COMPETENCE.items() if fact.kind in kinds)
        raise Forbidden(
            FieldError(
                "kind",
                f"{fact.reported_by.label}无权认定该类事实（{fact.kind.value}）；应由{competent}报送",
                f"{fact.reported_by.value} is not competent for {fact.kind.value}",
            )
        )


def repeat_of(
    fact: ComplianceFactReported, earlier: Iterable[tuple[str, ComplianceFactReported]]
) -> tuple[str, ComplianceFactReported] | None:
    """The first recorded fact (with its event id) that `fact` repeats: the same unit, rule,
    department and evidence reference; None when it is new."""
    reference = fact.evidence_ref.strip()
    for event_id, other in earlier:
        if (
            other.credit_code == fact.credit_code
            and other.kind.rule is fact.kind.rule
            and other.reported_by is fact.reported_by
            and other.evidence_ref.strip() == reference
        ):
            return event_id, other
    return None
