"""The registry's commands: the request bodies registrars and the service centres send, and the
typed commands they become with the ids their route names. The platform's command path
(`huigong_platform.application`) runs them through `handlers.py`."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Final

from pydantic import Field, StringConstraints, create_model

from huigong_events.forms import LongText, MemberKey, Name, Score, ShortText, SubmitterCode, Year
from huigong_events.grading import Bands, ScaleTargets, Weights
from huigong_events.labels import describe_pattern
from huigong_events.matters import (
    CalendarYear,
    Channel,
    ClearText,
    DutyShift,
    MatterOutcome,
    Providers,
    PublicPhone,
    ServiceCategory,
    Steps,
    TimeLimit,
)
from huigong_events.plausible import BuiltDay, PlainName, PlainText, RecordedDay
from huigong_events.registry import CriterionResult, PartnerRegistered, UnitRegistered
from huigong_events.warmth import Festival, Occasion, WarmthForm, Yuan
from huigong_platform.application import Command

# --- units and partners ----------------------------------------------------------------------------

# Registrations are the events themselves, with the id optional (generated when absent), and the
# name and date held to what a person can plausibly send (`huigong_events.plausible`); the events
# keep their looser types so that recorded streams replay.
RegisterUnit = create_model(
    "UnitRequest",
    __base__=UnitRegistered,
    unit_id=(uuid.UUID, Field(default_factory=uuid.uuid4, title="建设单位编号")),
    name=(PlainName, Field(title="单位名称", description="建设单位名称")),
    registered_on=(
        RecordedDay,
        Field(title="登记日期", description="登记为建设单位的日期：2022年1月1日至今天（北京时间）"),
    ),
)
RegisterPartner = create_model(
    "PartnerRequest",
    __base__=PartnerRegistered,
    partner_id=(uuid.UUID, Field(default_factory=uuid.uuid4, title="伙伴编号")),
    name=(PlainName, Field(title="伙伴名称", description="公益伙伴名称")),
    registered_on=(
        RecordedDay,
        Field(title="登记日期", description="登记为公益伙伴的日期：2022年1月1日至今天（北京时间）"),
    ),
)


class PartnerExitRequest(Command):
    reason: PlainText = Field(title="退出原因", description="退出纽带计划的原因")
    exited_on: RecordedDay | None = Field(
        default=None, title="退出日期", description="默认为今天（北京时间）"
    )


class ExitPartner(PartnerExitRequest):
    partner_id: uuid.UUID


class CriterionInput(CriterionResult):
    """一项认定标准的评估结果，如登记人员所填：佐证须有文字。"""

    criterion: PlainName = Field(title="认定标准", description="认定标准，如幸福企业七个方面之一")
    evidence: PlainText = Field(title="佐证材料", description="评估所依据的佐证材料或说明")


class AssessmentRequest(Command):
    results: list[CriterionInput] = Field(
        min_length=1, title="评估结果", description="各项认定标准：是否达到及佐证"
    )
    assessed_on: RecordedDay | None = Field(
        default=None, title="评估日期", description="默认为今天（北京时间）"
    )


class CertificationRequest(Command):
    certified_on: RecordedDay | None = Field(
        default=None, title="认定日期", description="默认为今天（北京时间）"
    )


class ReasonRequest(Command):
    reason: PlainText = Field(title="原因", description="撤销或退出的原因")
    on: RecordedDay | None = Field(default=None, title="日期", description="默认为今天（北京时间）")


class AssessUnit(AssessmentRequest):
    unit_id: uuid.UUID


class CertifyUnit(CertificationRequest):
    unit_id: uuid.UUID


class RevokeUnit(ReasonRequest):
    unit_id: uuid.UUID


class ExitUnit(ReasonRequest):
    unit_id: uuid.UUID


# --- facilities and members ------------------------------------------------------------------------


class FacilityClosureRequest(Command):
    closed_on: BuiltDay | None = Field(default=None, title="关闭日期", description="默认为今天（北京时间）")
    reason: PlainText = Field(title="关闭原因", description="设施关闭的原因")


class CloseFacility(FacilityClosureRequest):
    facility_id: uuid.UUID


class MemberErasureRequest(Command):
    request_ref: ClearText = Field(
        title="删除请求编号", description="职工个人信息删除请求的编号（不得含手机号或身份证号）"
    )


class EraseMember(MemberErasureRequest):
    member_key: str


# --- the 服务事项目录 --------------------------------------------------------------------------------


class ItemBody(Command):
    name: PlainName = Field(title="服务事项名称", description="如“劳动争议法律咨询”")
    category: ServiceCategory = Field(title="服务类别", description="服务事项所属类别")
    providers: Providers = Field(
        title="提供单位", description="提供该服务的职工服务中心或服务职工基地的登记单位编号"
    )
    time_limit_days: TimeLimit = Field(title="办结时限（工作日）", description="自受理次日起的工作日数，1–60")
    steps: Steps = Field(title="办理环节", description="按顺序列出的办理环节")
    commitment: PlainText | None = Field(default=None, title="服务承诺", description="向职工公开承诺的内容")


class ListingRequest(ItemBody):
    item_id: uuid.UUID = Field(default_factory=uuid.uuid4, title="服务事项编号", description="默认新生成")
    listed_on: RecordedDay | None = Field(
        default=None, title="列入日期", description="默认为今天（北京时间）"
    )


class ChangeRequest(ItemBody):
    changed_on: RecordedDay | None = Field(
        default=None, title="调整日期", description="默认为今天（北京时间）"
    )
    reason: ClearText = Field(title="调整原因", description="调整目录条目的原因")


class WithdrawalRequest(Command):
    reason: ClearText = Field(title="撤出原因", description="撤出目录的原因")
    withdrawn_on: RecordedDay | None = Field(
        default=None, title="撤出日期", description="默认为今天（北京时间）"
    )


class ListServiceItem(ListingRequest):
    """列入服务事项目录。"""


class ChangeServiceItem(ChangeRequest):
    item_id: uuid.UUID


class WithdrawServiceItem(WithdrawalRequest):
    item_id: uuid.UUID


# --- service matters (联动服务) -----------------------------------------------------------------------

# A mainland mobile number, or a landline with its area code (0532-8888 8888 written without
# blanks); the window takes whichever the worker can be called back on.
PHONE_PATTERN: Final = describe_pattern(
    r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$",
    "应为11位手机号，或带区号的固定电话，如 13800000000 或 0532-88888888",
    "an 11-digit mobile number or a landline with its area code, like 13800000000 or 0532-88888888",
)


class RequesterBody(Command):
    """求助职工：姓名和联系电话，加密保存，仅经办单位可见。"""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] = Field(
        title="姓名", description="求助职工的姓名"
    )
    phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=PHONE_PATTERN)] = Field(
        title="联系电话", description="手机号，或带区号的固定电话（如 0532-88888888）"
    )


class ReceiptRequest(Command):
    matter_id: uuid.UUID = Field(default_factory=uuid.uuid4, title="事项编号", description="默认新生成")
    centre: uuid.UUID | None = Field(
        default=None,
        title="受理中心",
        description="受理的职工服务中心（登记单位编号）；默认为调用方所在区市的中心",
    )
    item_id: uuid.UUID = Field(title="服务事项编号", description="所申请的服务事项（目录条目）")
    channel: Channel = Field(title="受理渠道", description="walk_in 窗口、phone 电话、app 齐鲁工惠App")
    requester: RequesterBody = Field(title="求助职工", description="姓名和联系电话（加密保存）")
    request: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] = Field(
        title="诉求", description="职工的诉求（加密保存，可删除）"
    )
    received_on: RecordedDay | None = Field(
        default=None, title="受理日期", description="默认为今天（北京时间）"
    )


class TransferRequest(Command):
    to: uuid.UUID = Field(
        title="接收单位", description="提供该服务事项的职工服务中心或服务职工基地（登记单位编号）"
    )
    reason: ClearText = Field(title="转办原因", description="转办的原因")
    transferred_on: RecordedDay | None = Field(
        default=None, title="转办日期", description="默认为今天（北京时间）"
    )


class AcceptanceRequest(Command):
    accepted_on: RecordedDay | None = Field(
        default=None, title="接收日期", description="默认为今天（北京时间）"
    )


class TransferRefusalRequest(Command):
    reason: ClearText = Field(title="退回原因", description="拒收转办的原因，告知转出单位")
    refused_on: RecordedDay | None = Field(
        default=None, title="退回日期", description="默认为今天（北京时间）"
    )


class StepRequest(Command):
    step: Name = Field(title="办理环节", description="受理时确定的办理环节之一，按顺序完成")
    note: ClearText | None = Field(default=None, title="办理说明", description="办理情况说明")
    done_on: RecordedDay | None = Field(default=None, title="完成日期", description="默认为今天（北京时间）")


class MatterClosureRequest(Command):
    outcome: MatterOutcome = Field(
        title="办结结果",
        description="resolved 已办结、declined 不予办理、withdrawn 申请人撤回、referred 转其他部门",
    )
    note: ClearText | None = Field(default=None, title="办结说明", description="办结情况说明")
    closed_on: RecordedDay | None = Field(
        default=None, title="办结日期", description="默认为今天（北京时间）"
    )


class RatingRequest(Command):
    score: int = Field(ge=1, le=5, title="满意度", description="1（很不满意）至 5（很满意）")
    comment: ClearText | None = Field(default=None, title="评价意见", description="职工的意见")
    rated_on: RecordedDay | None = Field(default=None, title="评价日期", description="默认为今天（北京时间）")


class RequesterErasureRequest(Command):
    request_ref: ClearText = Field(title="删除请求编号", description="个人信息删除请求的编号")


class WorkingCalendarRequest(Command):
    """一年的工作日安排：法定节假日（含调休放假的工作日）和调休上班的周六、周日，其余按周一至周五。"""

    holidays: list[date] = Field(
        max_length=366, title="法定节假日", description="该年度放假的日期（含因调休放假的工作日），YYYY-MM-DD"
    )
    adjusted_workdays: list[date] = Field(
        default_factory=list, max_length=366, title="调休上班日", description="该年度调休上班的周六、周日"
    )
    reason: ClearText = Field(title="发布依据", description="如“国务院办公厅关于2027年部分节假日安排的通知”")


class PublishWorkingCalendar(WorkingCalendarRequest):
    year: CalendarYear


class DutyRosterRequest(Command):
    """职工服务中心综合服务窗口的值班表和公开服务电话：自生效日期起按此值班。"""

    public_phone: PublicPhone = Field(
        title="服务电话", description="中心对外公开的服务电话，如 0532-82961234 或 12351"
    )
    shifts: list[DutyShift] = Field(
        min_length=1,
        max_length=50,
        title="值班安排",
        description="每名值班人员及其每周值班日（1 为周一……7 为周日）",
    )
    effective_from: date | None = Field(default=None, title="生效日期", description="默认今天（北京时间）")
    reason: ClearText = Field(title="设定原因", description="如“2027年一季度排班”")


class SetDutyRoster(DutyRosterRequest):
    centre_id: uuid.UUID


class ReceiveMatter(ReceiptRequest):
    """受理服务事项。"""


class TransferMatter(TransferRequest):
    matter_id: uuid.UUID


class AcceptMatter(AcceptanceRequest):
    matter_id: uuid.UUID


class RefuseTransfer(TransferRefusalRequest):
    matter_id: uuid.UUID


class DoMatterStep(StepRequest):
    matter_id: uuid.UUID


class CloseMatter(MatterClosureRequest):
    matter_id: uuid.UUID


class RateMatter(RatingRequest):
    matter_id: uuid.UUID


class EraseRequester(RequesterErasureRequest):
    matter_id: uuid.UUID


# --- 送温暖: a union's yearly fund, its deliveries, the city's approval ------------------------------


class BudgetRequest(Command):
    amount: Yuan = Field(title="预算金额（元）", description="本年度送温暖预算，整数元")
    approval_threshold: Yuan = Field(
        title="审批金额（元）", description="单笔金额超过此数的送温暖须经市总工会批准"
    )
    reason: ClearText = Field(title="原因", description="设定或调整预算的原因")


class SetWarmthBudget(BudgetRequest):
    union: SubmitterCode
    year: Year


class RecipientBody(Command):
    """受助成员的姓名和手机号：按入会时的方式加密保存，仅送温暖的工会可见。"""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] = Field(
        title="姓名", description="受助成员的姓名"
    )
    phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=PHONE_PATTERN)] = Field(
        title="联系电话", description="手机号，或带区号的固定电话"
    )


class DeliveryRequest(Command):
    delivery_id: uuid.UUID = Field(default_factory=uuid.uuid4, title="送温暖编号", description="默认新生成")
    member_key: MemberKey = Field(
        title="成员标识", description="受理回执中的 member_key（身份证号的密钥哈希）"
    )
    recipient: RecipientBody = Field(title="受助成员", description="姓名和联系电话（加密保存）")
    occasion: Occasion = Field(title="时机", description="遇到困难、重大疾病或重要节点")
    festival: Festival | None = Field(default=None, title="节日", description="重要节点须注明节日")
    form: WarmthForm = Field(title="形式", description="慰问金、实物或服务")
    amount: Yuan = Field(
        default=0, title="金额（元）", description="慰问金金额（必填），或实物、服务折合金额"
    )
    delivered_on: RecordedDay = Field(title="送温暖日期", description="送达的日期：不晚于今天（北京时间）")
    evidence_ref: ClearText = Field(title="佐证编号", description="签收单、照片等佐证材料的编号")
    repeat_reason: ClearText | None = Field(
        default=None, title="重复说明", description="同一成员本期已因同一时机获送温暖时，再次记录的原因"
    )


class DeliverWarmth(DeliveryRequest):
    """记录一次送温暖。"""


class DeclineRequest(Command):
    reason: ClearText = Field(title="理由", description="不予批准的理由")


class ApproveWarmth(Command):
    union: SubmitterCode
    year: Year
    delivery_id: uuid.UUID


class DeclineWarmth(DeclineRequest):
    union: SubmitterCode
    year: Year
    delivery_id: uuid.UUID


# --- a revocation case (撤销审查): the union's statement (申诉), a registrar's confirmation (撤销)
# or dismissal (不予撤销) --------------------------------------------------------------------------


class StatementRequest(Command):
    statement: LongText = Field(title="申诉内容", description="单位工会的陈述和申辩（可附证明材料的编号）")


class DecisionRequest(Command):
    reason: ShortText = Field(title="理由", description="决定撤销或不予撤销的理由")


class FileStatement(StatementRequest):
    """单位工会提交申诉。"""

    unit_id: uuid.UUID = Field(title="建设单位编号")


class ConfirmRevocation(DecisionRequest):
    """登记人员决定撤销称号。"""

    unit_id: uuid.UUID = Field(title="建设单位编号")


class DismissRevocation(DecisionRequest):
    """登记人员决定不予撤销，称号恢复。"""

    unit_id: uuid.UUID = Field(title="建设单位编号")


# --- 绩效评估、分级评定: the city's scheme for a year, the yearly evaluation of a 服务职工基地 or
# 公益伙伴, and what its grade brings (整改, 退出) ---------------------------------------------------


class SchemeRequest(Command):
    weights: Weights = Field(
        title="权重", description="服务规模、服务效率、服务质量、社会效应的权重（百分比，合计 100）"
    )
    bands: Bands = Field(title="等级划分", description="A、B、C、D 各自的最低综合得分，依次降低，D 为 0")
    scale_targets: ScaleTargets = Field(
        title="服务规模满分值", description="服务规模各项数字达到即得满分的值"
    )
    rectification_days: int = Field(
        ge=1, le=365, title="整改期限（天）", description="评定为 D 后的整改期限，自评定之日起算"
    )
    reason: PlainText = Field(title="调整理由", description="确定或调整评估办法的理由")


class SetEvaluationScheme(SchemeRequest):
    """市总工会确定某一年度的评估办法。"""

    year: Year = Field(title="评估年度")


class SocialEffectInput(Command):
    """社会效应：市总工会工作人员依佐证录入的得分。"""

    score: Score = Field(title="社会效应得分", description="0–100")
    evidence: PlainText = Field(
        title="佐证材料", description="据以评分的佐证，如媒体报道、表彰、合作单位评价的编号或说明"
    )


class EvaluationRequest(Command):
    year: Year = Field(title="评估年度", description="评估的年度")
    evaluated_on: RecordedDay | None = Field(
        default=None,
        title="评估日期",
        description="平台数据截至该日计算；默认为今天（北京时间），不早于评估年度",
    )
    social: SocialEffectInput = Field(title="社会效应", description="市总工会工作人员依佐证录入")


class EvaluateResource(EvaluationRequest):
    """年度绩效评估：计算三个方面，录入社会效应，评定等级。"""

    subject_id: uuid.UUID = Field(title="被评估单位编号")


class RectificationCompletionRequest(Command):
    evidence: PlainText = Field(title="整改佐证", description="整改完成的佐证材料")
    completed_on: RecordedDay | None = Field(
        default=None, title="完成日期", description="默认为今天（北京时间）"
    )


class CompleteRectification(RectificationCompletionRequest):
    """确认整改完成。"""

    subject_id: uuid.UUID = Field(title="被评估单位编号")


class ProposeExit(Command):
    """整改逾期未完成，提请退出。"""

    subject_id: uuid.UUID = Field(title="被评估单位编号")


class ConfirmExit(DecisionRequest):
    """登记人员决定退出。"""

    subject_id: uuid.UUID = Field(title="被评估单位编号")


class DismissExit(DecisionRequest):
    """登记人员决定不予退出。"""

    subject_id: uuid.UUID = Field(title="被评估单位编号")


class GradingStatementRequest(Command):
    statement: LongText = Field(title="说明内容", description="单位工会对评定结果、整改或退出提请的说明")
    year: Year | None = Field(default=None, title="评估年度", description="默认为最近一次评定的年度")


class FileGradingStatement(GradingStatementRequest):
    """单位工会提交说明。"""

    subject_id: uuid.UUID = Field(title="被评估单位编号")
