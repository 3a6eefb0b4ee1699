"""The KPIs of the brief, per month and department, with target and red/amber/green.

Items count in the month they started (an order in the month it was placed). Each KPI
also has a company-wide row per month, under the department label "全部" / "All".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from automation.calendar import BusinessCalendar
from automation.config import Config, Target
from automation.deadlines import Evaluation
from automation.layout import Language, Layout
from automation.model import CellValue, TabContent
from automation.validation import Record

ALL: dict[Language, str] = {"zh": "全部", "en": "All"}
KPI_LABELS: dict[str, dict[Language, str]] = {
    "items": {"zh": "事项数", "en": "Items"},
    "sla_compliance": {"zh": "时效达成率", "en": "SLA compliance"},
    "order_response_hours": {
        "zh": "订单响应时效(小时)",
        "en": "Order response (hours)",
    },
    "on_time_delivery_rate": {"zh": "交付准时率", "en": "On-time delivery rate"},
    "damage_rate": {"zh": "破损率", "en": "Damage rate"},
    "customer_satisfaction": {"zh": "客户满意度", "en": "Customer satisfaction"},
    "support_cost_ratio": {"zh": "销售支持成本占比", "en": "Support cost ratio"},
}
STATUS_LABELS: dict[str, dict[Language, str]] = {
    "green": {"zh": "达标", "en": "Green"},
    "amber": {"zh": "预警", "en": "Amber"},
    "red": {"zh": "未达标", "en": "Red"},
}


@dataclass(frozen=True)
class KpiRow:
    month: str
    department: str | None
    kpi: str
    value: float | None
    count: int
    status: str | None


class _Sums:
    """Numerator and denominator per (month, department, kpi), company-wide too."""

    def __init__(self) -> None:
        self.top: dict[tuple[str, str | None, str], float] = defaultdict(float)
        self.bottom: dict[tuple[str, str | None, str], float] = defaultdict(float)
        self.count: dict[tuple[str, str | None, str], int] = defaultdict(int)

    def add(
        self, month: str, department: str | None, kpi: str, top: float, bottom: float
    ) -> None:
        for dept in {department, None}:
            key = (month, dept, kpi)
            self.top[key] += top
            self.bottom[key] += bottom
            self.count[key] += 1

    def rows(self, targets: Mapping[str, Target]) -> list[KpiRow]:
        rows = []
        for key in sorted(self.count, key=_order):
            month, department, kpi = key
            value = None
            if kpi == "items":
                value = float(self.count[key])
            elif self.bottom[key]:
                value = round(self.top[key] / self.bottom[key], 4)
            rows.append(
                KpiRow(
                    month=month,
                    department=department,
                    kpi=kpi,
                    value=value,
                    count=self.count[key],
                    status=rag(value, targets.get(kpi)),
                )
            )
        return rows


def _order(key: tuple[str, str | None, str]) -> tuple[str, bool, str, int]:
    month, department, kpi = key
    return (
        month,
        department is not None,
        department or "",
        list(KPI_LABELS).index(kpi),
    )


def rag(value: float | None, target: Target | None) -> str | None:
    """Green inside the target, amber within its margin, red beyond."""
    if value is None or target is None:
        return None
    low = target.low if target.low is not None else float("-inf")
    high = target.high if target.high is not None else float("inf")
    if low <= value <= high:
        return "green"
    if low - target.amber <= value <= high + target.amber:
        return "amber"
    return "red"


def compute_kpis(
    evaluations: Mapping[str, Sequence[Evaluation]],
    records: Mapping[str, Sequence[Record]],
    config: Config,
    calendar: BusinessCalendar,
) -> list[KpiRow]:
    sums = _Sums()
    order_departments = {
        r.item_id: r.values.get("department") for r in records.get("orders", ())
    }
    for table, judged in evaluations.items():
        for evaluation in judged:
            if evaluation.start is None:
                continue
            month = _month(evaluation.start.astimezone(calendar.tz).date())
            department = _department(evaluation.record, order_departments)
            sums.add(month, department, "items", 1, 0)
            judgeable = [s for s in evaluation.stages if s.on_time is not None]
            if evaluation.closed and judgeable:
                on_time = all(s.on_time for s in judgeable)
                sums.add(month, department, "sla_compliance", float(on_time), 1)
            if table == "orders":
                _order_kpis(sums, evaluation, month, department)
    for record in records.get("satisfaction", ()):
        score, surveyed = record.values.get("score"), record.values.get("month")
        if isinstance(score, float) and isinstance(surveyed, date):
            sums.add(_month(surveyed), _dept(record), "customer_satisfaction", score, 1)
    _cost_ratio(sums, records)
    return sums.rows(config.targets)


def _order_kpis(
    sums: _Sums, evaluation: Evaluation, month: str, department: str | None
) -> None:
    values = evaluation.record.values
    start = evaluation.start
    picked = values.get("picked_at")
    if isinstance(picked, datetime) and start is not None and picked >= start:
        hours = (picked - start).total_seconds() / 3600
        sums.add(month, department, "order_response_hours", hours, 1)
    delivered = values.get("delivered_at")
    promised = values.get("promised_by")
    if not isinstance(promised, datetime):
        stage = next((s for s in evaluation.stages if s.stage.key == "delivered"), None)
        promised = stage.due if stage else None
    if isinstance(delivered, datetime) and isinstance(promised, datetime):
        sums.add(
            month, department, "on_time_delivery_rate", float(delivered <= promised), 1
        )
    quantity = values.get("quantity")
    if (
        isinstance(values.get("shipped_at"), datetime)
        and isinstance(quantity, (int, float))
        and quantity > 0
    ):
        damaged = values.get("damaged_qty")
        lost = float(damaged) if isinstance(damaged, (int, float)) else 0.0
        sums.add(month, department, "damage_rate", lost, float(quantity))


def _cost_ratio(sums: _Sums, records: Mapping[str, Sequence[Record]]) -> None:
    costs: dict[tuple[str, str | None], float] = defaultdict(float)
    sales: dict[tuple[str, str | None], float] = defaultdict(float)
    for table, into in (("costs", costs), ("sales", sales)):
        for record in records.get(table, ()):
            month, amount = record.values.get("month"), record.values.get("amount")
            if isinstance(month, date) and isinstance(amount, float):
                into[(_month(month), _dept(record))] += amount
    for (month, department), revenue in sales.items():
        if revenue > 0 and (month, department) in costs:
            sums.add(
                month,
                department,
                "support_cost_ratio",
                costs[(month, department)],
                revenue,
            )


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _dept(record: Record) -> str | None:
    value = record.values.get("department")
    return str(value) if value else None


def _department(
    record: Record, order_departments: Mapping[str | None, object]
) -> str | None:
    """The record's department, or else that of the order it belongs to."""
    own = _dept(record)
    if own:
        return own
    order = record.values.get("order_id")
    found = order_departments.get(str(order)) if order else None
    return str(found) if found else None


def target_text(target: Target | None) -> str:
    """A target as the KPI tab shows it, e.g. "≥ 98%" or "3%-5%"."""
    if target is None:
        return ""
    return {"at_least": "≥ ", "at_most": "≤ ", "between": ""}.get(
        target.direction, ""
    ) + target.text


def kpi_tab(
    layout: Layout, rows: Iterable[KpiRow], language: Language, config: Config
) -> TabContent:
    spec = layout.table("kpi")
    content: list[list[CellValue]] = [[f.label(language) for f in spec.fields]]
    for row in rows:
        content.append(
            [
                row.month,
                row.department or ALL[language],
                KPI_LABELS[row.kpi][language],
                row.value,
                row.count,
                target_text(config.targets.get(row.kpi)),
                STATUS_LABELS[row.status][language] if row.status else "",
            ]
        )
    return TabContent("kpi", content)
