"""Realistic demo rows for `automation demo`: six months of a logistics-sales workbook.

`build_demo` returns, per table key, the rows a team would have typed by the reference
time: mostly closed history, an open set around the reference (overdue, at risk, on
track, paused, brand-new emergencies, expedites), rows whose id or start time the
service must fill, and about 3 % invalid rows. Deadlines, flags and check columns are
left to the engine; timestamps are naive Asia/Shanghai wall-clock times, as typed.

Known limits: working hours are approximated with the default calendar (09:00-12:00,
13:30-18:00 on China's working days, make-up days included) and the open set is shaped
for a reference inside working hours on a working day. Another reference still gives
valid rows, but its open set leans differently (on a Sunday little is "at risk").
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from automation.layout import TableSpec, load_layout
from automation.model import CellValue

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Wednesday one week after the 2025 National Day break: the history crosses May Day,
# Dragon Boat and National Day, and the make-up Saturday 2025-10-11 is days before.
REFERENCE = datetime(2025, 10, 15, 10, 0, tzinfo=SHANGHAI)

Row = dict[str, CellValue]

REQUEST_COUNT, ORDER_COUNT, RETURN_COUNT = 140, 160, 50
HISTORY_DAYS = 182
PERIODS = ((time(9, 0), time(12, 0)), (time(13, 30), time(18, 0)))

NEW, OPEN, DONE, CANCELLED = "新提报", "处理中", "已完成", "已取消"
WAIT_CUSTOMER, WAIT_SALES = "等待客户", "等待销售"
EXPO, DEMO, ADDON, EMERGENCY, OTHER = (
    "展会物料",
    "演示设备",
    "合同追加",
    "现场紧急缺货",
    "其他",
)
STANDARD, NEXT_DAY = "标准", "次日达"
RETURN, EXCHANGE, REPAIR = "退货", "换货", "维修"
# Marks a row whose id is numbered once the rows are in sheet order.
AUTO_ID, DUPLICATE_ID = "<auto>", "<duplicate>"

# name, email user, role, department, manager, backup, active, language
PEOPLE: tuple[tuple[str, str, str, str, str | None, str | None, bool, str], ...] = (
    ("王芳", "wang.fang", "manager", "后勤部", None, None, True, "zh"),
    ("张三", "zhang.san", "logistics", "后勤部", "王芳", "李四", True, "zh"),
    ("李四", "li.si", "logistics", "后勤部", "王芳", "张三", True, "zh"),
    ("陈静", "chen.jing", "logistics", "后勤部", "王芳", "刘洋", True, "zh"),
    ("刘洋", "liu.yang", "logistics", "后勤部", "王芳", "Emily Chen", True, "zh"),
    ("Emily Chen", "emily.chen", "logistics", "后勤部", "王芳", "陈静", True, "en"),
    ("马超", "ma.chao", "logistics", "后勤部", "王芳", "张三", False, "zh"),
    ("周杰", "zhou.jie", "manager", "销售一部", None, None, True, "zh"),
    ("赵敏", "zhao.min", "sales", "销售一部", "周杰", None, True, "zh"),
    ("孙磊", "sun.lei", "sales", "销售一部", "周杰", None, True, "zh"),
    ("David Wang", "david.wang", "sales", "销售一部", "周杰", None, True, "en"),
    ("吴倩", "wu.qian", "manager", "销售二部", None, None, True, "zh"),
    ("郑浩", "zheng.hao", "sales", "销售二部", "吴倩", None, True, "zh"),
    ("冯雪", "feng.xue", "sales", "销售二部", "吴倩", None, True, "zh"),
    ("Michael Liu", "michael.liu", "manager", "销售三部", None, None, True, "en"),
    ("韩梅", "han.mei", "sales", "销售三部", "Michael Liu", None, True, "zh"),
    ("杨帆", "yang.fan", "sales", "销售三部", "Michael Liu", None, True, "zh"),
    (
        "Sophia Zhang",
        "sophia.zhang",
        "sales",
        "销售三部",
        "Michael Liu",
        None,
        True,
        "en",
    ),
)
SALES_DEPARTMENTS = ("销售一部", "销售二部", "销售三部")
OWNERS = tuple(p[0] for p in PEOPLE if p[2] == "logistics" and p[6])
SALES = {
    dept: tuple(p[0] for p in PEOPLE if p[2] == "sales" and p[3] == dept)
    for dept in SALES_DEPARTMENTS
}

CUSTOMERS = (
    ("华东电气", "销售一部"),
    ("苏州精密机械有限公司", "销售一部"),
    ("杭州云帆科技", "销售一部"),
    ("Acme Robotics Ltd.", "销售一部"),
    ("南京恒远医疗器械", "销售二部"),
    ("深圳启明电子", "销售二部"),
    ("青岛海润食品", "销售二部"),
    ("Northwind Trading", "销售二部"),
    ("北京中科仪器", "销售三部"),
    ("武汉长江重工", "销售三部"),
    ("成都蓝海设备", "销售三部"),
    ("Pacific Rim Instruments", "销售三部"),
)
CITIES = ("Shenzhen", "Shanghai", "Guangzhou", "Chengdu", "Hangzhou")
PARTS = ("电源模块", "传感器", "连接线缆", "控制板", "触摸屏")
# (template, lowest n, highest n); {m} is a multiple of n, for brochures and gifts.
CONTENT: dict[str, tuple[tuple[str, int, int], ...]] = {
    EXPO: (
        ("展会样品{n}套、宣传册{m}本", 5, 20),
        ("易拉宝{n}个、展台礼品{m}份", 2, 6),
        ("Trade show kit for {city}: {n} banners, {m} brochures", 2, 8),
    ),
    DEMO: (
        ("客户演示设备{n}台", 1, 5),
        ("Demo units x{n} for {city} trade fair", 2, 4),
        ("演示样机{n}台及配套线缆", 1, 3),
    ),
    ADDON: (
        ("合同签订后追加配件{n}件", 20, 150),
        ("追加备件{n}套,随原订单发货", 5, 40),
        ("Add-on to signed contract: {n} spare {part_en}", 10, 100),
    ),
    EMERGENCY: (
        ("客户现场缺{part}{n}个,急需送达", 1, 10),
        ("On-site shortage: {n} x {part_en} needed at customer site", 1, 6),
    ),
    OTHER: (
        ("定制客户LOGO礼品套装{n}份", 10, 60),
        ("新人培训用样品{n}套", 2, 8),
        ("Customer visit gift sets x{n}", 5, 30),
    ),
}
PARTS_EN = ("power modules", "sensors", "cables", "control boards", "touch panels")
ISSUES = {
    RETURN: ("客户不再需要,七天无理由退货", "型号下错,申请退货", "Wrong model ordered"),
    EXCHANGE: (
        "外箱破损,内件划伤,申请换货",
        "发错型号,需要换货",
        "Scratched panel on arrival",
    ),
    REPAIR: ("产品使用故障,无法开机", "传感器读数漂移", "Screen flickers after update"),
}
CARRIERS = (
    ("顺丰", "SF", 13, 45),
    ("京东物流", "JDX", 12, 35),
    ("德邦", "DPK", 12, 20),
)


@dataclass
class _WorkTime:
    """The default calendar's working hours, close enough to place demo timestamps."""

    years: Iterable[int]
    _cache: dict[date, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._holidays = holidays.country_holidays("CN", years=list(self.years))

    def is_working_day(self, day: date) -> bool:
        if day not in self._cache:
            self._cache[day] = bool(self._holidays.is_working_day(day))
        return self._cache[day]

    def add_days(self, day: date, count: int) -> date:
        """The `count`-th working day after `day`, or before it when negative."""
        step = timedelta(days=1 if count >= 0 else -1)
        left = abs(count)
        while left:
            day += step
            left -= self.is_working_day(day)
        return day

    def add_hours(self, start: datetime, hours: float) -> datetime:
        """`start` moved forward by `hours` counted only inside working periods."""
        left, day = timedelta(hours=hours), start.date()
        while True:
            for begin, end in self._periods(day):
                begin = max(begin, start)
                if begin < end:
                    if left <= end - begin:
                        return _minute(begin + left)
                    left -= end - begin
            day += timedelta(days=1)

    def back_hours(self, end: datetime, hours: float) -> datetime:
        """`end` moved back by `hours` counted only inside working periods."""
        left, day = timedelta(hours=hours), end.date()
        while True:
            for begin, finish in reversed(self._periods(day)):
                finish = min(finish, end)
                if begin < finish:
                    if left <= finish - begin:
                        return _minute(finish - left)
                    left -= finish - begin
            day -= timedelta(days=1)

    def moment(self, rng: random.Random, day: date) -> datetime:
        """A random minute inside the working periods of `day`."""
        start = datetime.combine(day, PERIODS[0][0])
        return self.add_hours(start, rng.uniform(0.05, 7.4))

    def _periods(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_working_day(day):
            return []
        return [
            (datetime.combine(day, a), datetime.combine(day, b)) for a, b in PERIODS
        ]


@dataclass
class _Demo:
    """What every generator shares: the random source, the wall-clock now, the hours."""

    rng: random.Random
    now: datetime
    work: _WorkTime

    def between(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def history(self, newest_days_back: int = 2) -> datetime:
        """A working moment spread over the six months before now."""
        first = self.now.date() - timedelta(days=HISTORY_DAYS)
        span = HISTORY_DAYS - newest_days_back
        day = first + timedelta(days=self.rng.randrange(span))
        while not self.work.is_working_day(day):
            day -= timedelta(days=1)  # backwards, so a long holiday never reaches now
        return self.work.moment(self.rng, day)

    def ago(self, hours: float) -> datetime:
        """Calendar hours before now, to the minute."""
        return _minute(self.now - timedelta(hours=hours))

    def work_ago(self, hours: float) -> datetime:
        """Working hours before now, to the minute."""
        return self.work.back_hours(self.now, hours)

    def customer(self) -> tuple[str, str, str]:
        """A customer, the sales department that owns it, and one of its salespeople."""
        name, dept = self.rng.choice(CUSTOMERS)
        return name, dept, self.rng.choice(SALES[dept])


def build_demo(reference: datetime = REFERENCE, seed: int = 7) -> dict[str, list[Row]]:
    """Every demo table's rows as typed by the reference time, the same for a seed."""
    if reference.tzinfo is None:
        raise ValueError(
            "build_demo needs a timezone-aware reference time, "
            "for example REFERENCE, 2025-10-15 10:00 in Asia/Shanghai"
        )
    now = _minute(reference.astimezone(SHANGHAI).replace(tzinfo=None))
    years = range(now.year - 1, now.year + 2)
    demo = _Demo(random.Random(seed), now, _WorkTime(years))
    orders = _orders(demo)
    return {
        "people": _people(),
        "requests": _requests(demo),
        "orders": orders,
        "returns": _returns(demo, orders),
        "inventory": _inventory(demo),
        "satisfaction": _satisfaction(demo),
        **_costs_and_sales(demo),
    }


# People -------------------------------------------------------------------------------


def _people() -> list[Row]:
    """The People tab: three sales departments, logistics, one former employee."""
    keys = ("name", "email", "role", "department", "manager", "backup", "active")
    rows = []
    for name, user, *rest, language in PEOPLE:
        values = dict(zip(keys, (name, f"{user}@example.com", *rest), strict=True))
        rows.append(_row("people", **values, language=language))
    return rows


# Requests -----------------------------------------------------------------------------


def _requests(demo: _Demo) -> list[Row]:
    """Sales requests to logistics: closed history, the open set, invalid rows."""
    rows = _open_requests(demo) + _invalid_requests(demo)
    while len(rows) < REQUEST_COUNT:
        rows.append(_closed_request(demo, demo.history()))
    return _number(rows, "submitted_at", "REQ-")


def _request(
    demo: _Demo, submitted: datetime | None, kind: str, **values: CellValue
) -> Row:
    """One request with realistic content; `values` override any field."""
    customer, dept, requester = demo.customer()
    template, low, high = demo.rng.choice(CONTENT[kind])
    n = demo.rng.randint(low, high)
    part = demo.rng.randrange(len(PARTS))
    content = template.format(
        n=n,
        m=n * demo.rng.choice((20, 50, 100)),
        city=demo.rng.choice(CITIES),
        part=PARTS[part],
        part_en=PARTS_EN[part],
    )
    row = _row(
        "requests",
        id=AUTO_ID,
        submitted_at=submitted,
        department=dept,
        requester=requester,
        type=kind,
        priority="加急" if kind == EMERGENCY or demo.rng.random() < 0.15 else "普通",
        customer=customer if kind != OTHER else None,
        content=content,
        quantity=n,
        required_by=_required_by(demo, submitted, kind) if submitted else None,
        owner=demo.rng.choice(OWNERS),
        status=OPEN,
    )
    row.update(values)
    return row


def _required_by(demo: _Demo, submitted: datetime, kind: str) -> CellValue:
    """A deadline a requester would give, never shorter than the standard lead time."""
    if kind in (EXPO, DEMO):
        day = demo.work.add_days(submitted.date(), demo.rng.randint(5, 9))
    elif kind == ADDON:
        day = submitted.date() + timedelta(days=demo.rng.randint(2, 4))
    elif kind == OTHER and demo.rng.random() < 0.5:
        day = demo.work.add_days(submitted.date(), demo.rng.randint(6, 10))
    else:
        return None
    if demo.rng.random() < 0.05:
        return f"{day.year}年{day.month}月{day.day}日"
    return datetime.combine(day, time(18, 0))


def _closed_request(demo: _Demo, submitted: datetime) -> Row:
    """A request from the history, done on time or a little late, or cancelled."""
    kind = demo.rng.choices(
        (EXPO, DEMO, ADDON, EMERGENCY, OTHER), (30, 25, 20, 10, 15)
    )[0]
    row = _request(demo, submitted, kind)
    if demo.rng.random() < 0.04:
        row.update(status=CANCELLED, progress="客户活动取消,需求撤回")
        return row

    done = _request_done(demo, submitted, kind, late=demo.rng.random() < 0.1)
    if done >= demo.now:
        row["progress"] = "正在备货"
        return row

    row["status"] = "Done" if demo.rng.random() < 0.05 else DONE
    row["done_at"] = _typed(demo, done)
    row["progress"] = demo.rng.choice(
        (
            f"已完成采购,{done.month}月{done.day}日送达",
            f"已联系供应商,{done.month}月{done.day}日到货",
            f"已发顺丰,{done.month}月{done.day}日签收",
            f"Delivered on {done:%b} {done.day}",
        )
    )
    return row


def _request_done(demo: _Demo, submitted: datetime, kind: str, late: bool) -> datetime:
    """When a request of this kind was finished, per the default service levels."""
    work, between = demo.work, demo.between
    if kind == EMERGENCY:
        return _minute(
            submitted
            + timedelta(hours=between(2.2, 3.5) if late else between(0.6, 1.8))
        )
    if kind == ADDON:
        if late:
            return _minute(submitted + timedelta(hours=between(26, 40)))
        done = work.add_hours(submitted, between(1, 5))
        if done - submitted > timedelta(hours=22):
            done = _minute(submitted + timedelta(hours=between(3, 6)))  # overtime
        return done
    # Working-day levels: done within two working days is on time whether or not the
    # day of submission counts; four or five is late either way.
    days = demo.rng.randint(4, 5) if late else demo.rng.randint(0, 2)
    if days == 0:
        return work.add_hours(submitted, between(1, 4))
    return work.moment(demo.rng, work.add_days(submitted.date(), days))


def _open_requests(demo: _Demo) -> list[Row]:
    """The open set around now: overdue, at risk, on track, paused, new, expedite."""
    work, ago, work_ago = demo.work, demo.ago, demo.work_ago
    today = demo.now.date()
    expo_days_ago = work.moment(demo.rng, work.add_days(today, -6))
    demo_days_ago = work.moment(demo.rng, work.add_days(today, -9))
    return [
        # overdue
        _request(demo, expo_days_ago, EXPO, progress="供应商延迟发货,正在催促"),
        _request(demo, demo_days_ago, DEMO, progress="演示机在返修,待厂家寄回"),
        _request(demo, work_ago(16), ADDON, progress="部分配件缺货"),
        _request(demo, ago(2.6), EMERGENCY, progress="已派车,路上堵车"),
        _request(demo, work_ago(12), OTHER, owner=None, status=NEW),
        # at risk
        _request(demo, work_ago(5.5), ADDON, progress="已备货,待发货"),
        _request(demo, ago(1.6), EMERGENCY, progress="已从上海仓调货"),
        # with REFERENCE, submitted on the make-up working Saturday 2025-10-11
        _request(demo, work_ago(19), EXPO, progress="宣传册印刷中"),
        # on track
        _request(demo, work_ago(6), DEMO, progress="已预约演示机"),
        _request(demo, work_ago(11), OTHER, progress="Gift sets ordered"),
        _request(demo, work_ago(0.9), ADDON, status=NEW, owner=None),
        _request(demo, work_ago(0.6), EXPO, status=NEW, owner=None),
        # paused
        _request(
            demo,
            work_ago(14),
            DEMO,
            status=WAIT_CUSTOMER,
            progress="等待客户确认演示时间",
        ),
        _request(
            demo,
            work_ago(20),
            EXPO,
            status=WAIT_SALES,
            progress="等待销售确认展位尺寸与数量",
        ),
        _request(
            demo,
            work_ago(8.5),
            ADDON,
            status=WAIT_CUSTOMER,
            progress="客户确认收货地址中",
        ),
        # brand-new emergencies, within the last hour
        _request(demo, ago(0.2), EMERGENCY, status=NEW, owner=None),
        _request(demo, ago(0.7), EMERGENCY, owner="张三", progress="张三已出发"),
        # required by earlier than the standard lead time: needs an expedite
        _request(
            demo,
            ago(0.8),
            EXPO,
            required_by=datetime.combine(work.add_days(today, 1), time(12)),
        ),
        _request(
            demo,
            work_ago(0.75),
            ADDON,
            required_by=_minute(demo.now + timedelta(hours=8)),
        ),
        # typed just now: the service fills the id or the submission time
        _request(demo, work_ago(0.4), OTHER, id=None, status=NEW, owner=None),
        _request(demo, work_ago(0.3), DEMO, id=None, status=NEW, owner=None),
        _request(demo, None, EXPO, id=None, status=NEW, owner=None, required_by=None),
    ]


def _invalid_requests(demo: _Demo) -> list[Row]:
    """Requests with one typing mistake each, as people make them."""
    return [
        _request(
            demo, demo.work_ago(2), EXPO, status=NEW, owner=None, required_by="下周三"
        ),
        _request(demo, demo.work_ago(9), DEMO, required_by="9/31"),
        _request(demo, demo.work_ago(12), OTHER, owner="刘伟"),
        _request(demo, demo.work_ago(15), ADDON, quantity="十"),
        _request(demo, demo.history(), EXPO, status="搞定了", done_at=None),
        _closed_request(demo, demo.history()) | {"id": DUPLICATE_ID},
    ]


# Orders -------------------------------------------------------------------------------

ORDER_STAGES = (
    "audited_at",
    "picked_at",
    "handed_over_at",
    "shipped_at",
    "delivered_at",
)


def _orders(demo: _Demo) -> list[Row]:
    """Customer orders through audit, picking, handover, shipping and delivery."""
    rows = _open_orders(demo) + _invalid_orders(demo)
    while len(rows) < ORDER_COUNT:
        late = demo.rng.choices((None, *ORDER_STAGES), (82, 5, 4, 4, 3, 2))[0]
        mode = demo.rng.choices((STANDARD, NEXT_DAY), (75, 25))[0]
        placed = demo.history()
        if mode == NEXT_DAY and placed.hour >= 12:
            # next-day orders come before the afternoon cut-off
            placed -= timedelta(hours=4, minutes=30)
        rows.append(_order(demo, placed, late=late, mode=mode))
    return _number(rows, "placed_at", "ORD-")


def _order(
    demo: _Demo,
    placed: datetime | None,
    *,
    stages: int | None = None,
    late: str | None = None,
    mode: str | None = None,
    **values: CellValue,
) -> Row:
    """One order, progressed through `stages` stages (or as far as now allows)."""
    rng = demo.rng
    customer, dept, rep = demo.customer()
    mode = mode or rng.choices((STANDARD, NEXT_DAY), (75, 25))[0]
    quantity = rng.choice((1, 2, 5, 10, 20, 50, 100, 200))
    row = _row(
        "orders",
        id=AUTO_ID,
        placed_at=placed,
        customer=customer,
        sales_rep=rep,
        department=dept,
        urgent="是" if rng.random() < 0.12 else "否",
        delivery_mode=mode,
        quantity=quantity,
        amount=round(quantity * rng.choice((128.0, 360.0, 899.0, 1580.0, 2760.0)), 2),
        status=NEW,
    )
    if placed is not None:
        _progress(demo, row, placed, mode, stages, late)
    if row["delivered_at"] is not None and rng.random() < 0.06:
        row["damaged_qty"] = rng.randint(1, min(3, quantity))
    row.update(values)
    return row


def _progress(
    demo: _Demo,
    row: Row,
    placed: datetime,
    mode: str,
    stages: int | None,
    late: str | None,
) -> None:
    """Fill the stage timestamps that have happened, and what goes with them."""
    times = _order_times(demo, placed, mode, late)
    happened = sum(moment < demo.now for moment in times)
    stages = happened if stages is None else min(stages, happened)
    row["promised_by"] = _promise(placed, mode)
    if stages == 0:
        return

    carrier, prefix, digits, _ = demo.rng.choices(CARRIERS, [c[3] for c in CARRIERS])[0]
    row.update(dict(zip(ORDER_STAGES[:stages], times[:stages], strict=True)))
    row.update(owner=demo.rng.choice(OWNERS), carrier=carrier, status=OPEN)
    if stages >= 4:
        row["tracking_no"] = prefix + "".join(demo.rng.choices("0123456789", k=digits))
    if stages == 5:
        row["status"] = "Done" if demo.rng.random() < 0.04 else DONE


def _order_times(
    demo: _Demo, placed: datetime, mode: str, late: str | None
) -> list[datetime]:
    """Audit, pick, handover, ship, deliver: on time per the defaults unless `late`."""
    work, between = demo.work, demo.between
    slow = {stage: stage == late for stage in ORDER_STAGES}
    audited = work.add_hours(
        placed, between(1.2, 2.5) if slow["audited_at"] else between(0.1, 0.8)
    )
    picked = work.add_hours(
        audited, between(1.5, 3) if slow["picked_at"] else between(0.2, 0.9)
    )
    handed = work.add_hours(
        picked, between(2.5, 4) if slow["handed_over_at"] else between(0.2, 1.5)
    )
    shipped = _courier(demo, handed + timedelta(hours=between(0.5, 4)))
    if slow["shipped_at"]:
        slow_ship = placed + timedelta(hours=between(50, 70))
        shipped = _courier(demo, max(slow_ship, handed + timedelta(hours=1)))
    elif mode == STANDARD and shipped - placed > timedelta(hours=46):
        # Friday-evening and pre-holiday orders: the warehouse works late to keep
        # the 48-hour shipping promise.
        audited, picked, handed, shipped = _overtime(demo, placed)

    promise = _promise(placed, mode)
    transit = between(6, 20) if mode == NEXT_DAY else between(18, 60)
    delivered = _courier(demo, shipped + timedelta(hours=transit))
    if slow["delivered_at"]:
        delivered = _courier(demo, promise + timedelta(hours=between(3, 30)))
    elif delivered > promise and shipped + timedelta(hours=2) < promise:
        delivered = _minute(promise - timedelta(hours=between(0.5, 2)))
    return [audited, picked, handed, shipped, max(delivered, shipped)]


def _overtime(demo: _Demo, placed: datetime) -> list[datetime]:
    """Audit, pick, handover and shipping done the same evening, outside hours."""
    moments, moment = [], placed
    for _ in range(4):
        moment = _minute(moment + timedelta(hours=demo.between(0.2, 0.6)))
        moments.append(moment)
    return moments


def _courier(demo: _Demo, moment: datetime) -> datetime:
    """`moment` moved into the couriers' day, 08:00-21:00, any day of the week."""
    if moment.hour < 8:
        moment = datetime.combine(moment.date(), time(8)) + timedelta(
            hours=demo.between(0, 3)
        )
    elif moment.hour >= 21:
        moment = datetime.combine(moment.date(), time(9)) + timedelta(
            days=1, hours=demo.between(0, 3)
        )
    return _minute(moment)


def _promise(placed: datetime, mode: str) -> datetime:
    """What sales promised the customer when the order was placed."""
    if mode == NEXT_DAY:
        return datetime.combine(placed.date() + timedelta(days=1), time(20, 0))
    return datetime.combine(placed.date() + timedelta(days=5), time(18, 0))


def _open_orders(demo: _Demo) -> list[Row]:
    """Orders in flight now, and one placed on the latest make-up working day."""
    work_ago = demo.work_ago
    rows = [
        _order(demo, work_ago(0.8), stages=0),  # audit at risk
        _order(demo, work_ago(0.3), stages=0, urgent="是"),  # audit on track
        _order(demo, work_ago(2.5), stages=0),  # audit overdue
        _order(demo, work_ago(6), stages=2, mode=STANDARD),  # handover overdue
        _order(demo, work_ago(1.7), stages=1),  # picking at risk
        _order(demo, work_ago(4.5), stages=3, mode=STANDARD),  # shipping on track
        _order(demo, work_ago(12.5), stages=3, mode=STANDARD),  # shipping at risk
        _order(demo, work_ago(17), stages=3, mode=STANDARD),  # shipping overdue
        # delivery due tonight; its mode typed with the English alias
        _order(demo, work_ago(7.5), stages=4, mode=NEXT_DAY, delivery_mode="Next day"),
        _order(demo, work_ago(16), stages=4, mode=NEXT_DAY),  # delivery overdue
        _order(demo, work_ago(10), stages=4, mode=STANDARD),  # in transit
        # paused: the customer moves the date; sales must confirm the price
        _order(demo, work_ago(18), stages=2, status=WAIT_CUSTOMER),
        _order(demo, work_ago(3), stages=0, status=WAIT_SALES),
        _order(demo, work_ago(0.5), stages=0, id=None),  # the service fills the id
        _order(demo, None, stages=0, id=None),  # and the placement time
    ]
    makeup = _latest_makeup_day(demo)
    if makeup is not None:
        rows.append(_order(demo, datetime.combine(makeup, time(10, 20)), late=None))
    return rows


def _latest_makeup_day(demo: _Demo) -> date | None:
    """The latest weekend working day (调休) in the month before now, if any."""
    for back in range(1, 31):
        day = demo.now.date() - timedelta(days=back)
        if day.weekday() >= 5 and demo.work.is_working_day(day):
            return day
    return None


def _invalid_orders(demo: _Demo) -> list[Row]:
    """Orders with a mistake each: no customer, delivered before shipped, id reused."""
    backwards = _order(demo, demo.history(newest_days_back=30), stages=5)
    handed, shipped = backwards["handed_over_at"], backwards["shipped_at"]
    if isinstance(handed, datetime) and isinstance(shipped, datetime):
        # signed for between handover and shipping: typed on the wrong line
        backwards["delivered_at"] = _minute(handed + (shipped - handed) / 2)
    return [
        _order(demo, demo.work_ago(1.2), stages=0, customer=None),
        backwards,
        _order(demo, demo.history(newest_days_back=5)) | {"id": DUPLICATE_ID},
    ]


# Returns ------------------------------------------------------------------------------


def _returns(demo: _Demo, orders: list[Row]) -> list[Row]:
    """Returns, exchanges and repairs after delivery, mostly closed."""
    work_ago, ago = demo.work_ago, demo.ago
    rows = [
        _case(demo, orders, work_ago(12), stages=0),  # inspection overdue
        _case(demo, orders, ago(20), stages=0, status=NEW, owner=None),  # at risk
        _case(demo, orders, ago(1.4), stages=0, status=NEW, owner=None),  # on track
        _case(demo, orders, work_ago(16), kind=REPAIR, stages=1),  # repair at risk
        _case(demo, orders, work_ago(5), kind=REPAIR, stages=1),  # repair on track
        _case(
            demo, orders, work_ago(20), kind=EXCHANGE, stages=1, status=WAIT_CUSTOMER
        ),
        # one mistake each: no customer, a status nobody defined
        _case(demo, orders, work_ago(3), stages=0, customer=None),
        _case(demo, orders, demo.history(newest_days_back=7), status="处理完"),
    ]
    while len(rows) < RETURN_COUNT:
        rows.append(_case(demo, orders, demo.history(), late=demo.rng.random() < 0.1))
    return _number(rows, "received_at", "RET-")


def _case(
    demo: _Demo,
    orders: list[Row],
    received: datetime,
    *,
    kind: str | None = None,
    stages: int | None = None,
    late: bool = False,
    **values: CellValue,
) -> Row:
    """One after-sales case, linked to an earlier delivered order when there is one."""
    rng = demo.rng
    kind = kind or rng.choices((RETURN, EXCHANGE, REPAIR), (30, 30, 40))[0]
    order = _delivered_before(rng, orders, received)
    customer, _, rep = demo.customer()
    if order is not None:
        customer = str(order["customer"])
        rep = str(order["sales_rep"])
    row = _row(
        "returns",
        id=AUTO_ID,
        received_at=received,
        customer=customer,
        order_id=order["id"] if order is not None else None,
        kind=kind,
        issue=rng.choice(ISSUES[kind]),
        requester=rep,
        owner=rng.choice(OWNERS),
        status=OPEN,
    )
    times = _case_times(demo, received, kind, late)
    happened = sum(moment < demo.now for moment in times)
    stages = happened if stages is None else min(stages, happened)
    row.update(dict(zip(CASE_STAGES[kind], times[:stages], strict=False)))
    if stages == len(times) and times:
        row["status"] = DONE
    row.update(values)
    return row


CASE_STAGES = {
    RETURN: ("inspected_at",),
    EXCHANGE: ("inspected_at", "shipped_back_at"),
    REPAIR: ("inspected_at", "repaired_at", "shipped_back_at"),
}


def _case_times(
    demo: _Demo, received: datetime, kind: str, late: bool
) -> list[datetime]:
    """Inspection; then a repair's fix and return, or an exchange's new unit sent."""
    work, between = demo.work, demo.between
    inspected = work.add_hours(received, between(0.5, 5))
    if late and kind != REPAIR:
        inspected = max(inspected, _minute(received + timedelta(hours=between(26, 48))))
    elif inspected - received > timedelta(hours=23):
        inspected = _minute(received + timedelta(hours=between(2, 6)))  # weekend duty
    if kind == RETURN:
        return [inspected]
    if kind == EXCHANGE:
        return [inspected, work.add_hours(inspected, between(1, 8))]
    repaired = work.add_hours(inspected, between(25, 30) if late else between(3, 9))
    return [inspected, repaired, work.add_hours(repaired, between(0.3, 2))]


def _delivered_before(
    rng: random.Random, orders: list[Row], moment: datetime
) -> Row | None:
    """A delivered order from before `moment`, or None (a case without its order)."""
    delivered = [
        order
        for order in orders
        if isinstance(order["delivered_at"], datetime)
        and order["delivered_at"] < moment
        and order["id"] is not None
    ]
    if not delivered or rng.random() < 0.15:
        return None
    return rng.choice(delivered[-30:])


# Monthly and stock tables -------------------------------------------------------------

PRODUCTS = (
    ("IC200", "工业控制器 IC-200", 1850.0, 20),
    ("SM750", "伺服电机 SM-750", 2460.0, 15),
    ("HMI7", "触摸屏 HMI-7", 980.0, 30),
    ("SK3", "传感器套件 SK-3", 320.0, 80),
    ("PW24", "电源模块 PW-24", 210.0, 100),
    ("CB5M", "连接线缆 5m", 35.0, 300),
    ("DX1", "演示样机 DX-1", 5200.0, 4),
    ("BNR", "展会易拉宝", 180.0, 20),
    ("BRO", "宣传册(2025版)", 3.5, 2000),
    ("GFT", "礼品套装 Gift set", 95.0, 150),
    ("SPK", "备用配件包", 260.0, 60),
    ("BOXL", "包装纸箱(大)", 6.0, 800),
    ("FOAM", "缓冲泡棉", 2.2, 1500),
    ("LBL", "标签打印纸", 18.0, 200),
)
WAREHOUSES = (("SH", "上海仓"), ("GZ", "广州仓"), ("CD", "成都仓"))


def _inventory(demo: _Demo) -> list[Row]:
    """About forty stock positions over three warehouses, a few below safety stock."""
    rng = demo.rng
    pairs = [(p, w) for p in PRODUCTS for w in WAREHOUSES][:40]
    short = set(rng.sample(range(len(pairs)), 4))
    rows = []
    for index, ((code, name, cost, safety), (prefix, warehouse)) in enumerate(pairs):
        factor = rng.uniform(0.2, 0.8) if index in short else rng.uniform(1.2, 4.0)
        on_hand = int(safety * factor)
        rows.append(
            _row(
                "inventory",
                sku=f"{prefix}-{code}",
                name=name,
                warehouse=warehouse,
                on_hand=on_hand,
                reserved=int(on_hand * rng.uniform(0, 0.3)),
                safety_stock=safety,
                unit_cost=cost,
            )
        )
    return rows


PRAISE = (
    "发货及时,包装完好",
    "售后响应快",
    "Fast delivery, well packed",
    "对接人很专业",
)
COMPLAINTS = ("次日达延误一天", "展会物料到得太晚", "Repair took longer than promised")


def _satisfaction(demo: _Demo) -> list[Row]:
    """Monthly survey answers: each sales department's customers, mostly 85-98."""
    rng = demo.rng
    rows = []
    for month in _months(demo.now):
        for customer, dept in CUSTOMERS:
            if rng.random() < 0.25:
                continue  # not every customer answers every month
            unhappy = rng.random() < 0.06
            score = rng.randint(72, 84) if unhappy else rng.randint(85, 98)
            comment = rng.choice(COMPLAINTS if unhappy else (*PRAISE, None, None))
            rows.append(
                _row(
                    "satisfaction",
                    month=month,
                    customer=customer,
                    department=dept,
                    score=score,
                    comment=comment,
                )
            )
    return rows


REVENUE = {"销售一部": 2_400_000, "销售二部": 1_800_000, "销售三部": 1_200_000}
COST_SPLIT = (("仓储", 0.35), ("运输", 0.45), ("物料", 0.20))


def _costs_and_sales(demo: _Demo) -> dict[str, list[Row]]:
    """Monthly revenue per department and the logistics cost of supporting it, 3-5 %."""
    rng = demo.rng
    costs, sales = [], []
    for month in _months(demo.now):
        # the brief's third-quarter rush
        peak = 1.15 if month[-2:] in ("07", "08", "09") else 1.0
        for dept, base in REVENUE.items():
            revenue = round(base * peak * rng.uniform(0.9, 1.1))
            sales.append(_row("sales", month=month, department=dept, amount=revenue))
            support = revenue * rng.uniform(0.034, 0.046)
            for category, share in COST_SPLIT:
                amount = round(support * share * rng.uniform(0.92, 1.08))
                costs.append(
                    _row(
                        "costs",
                        month=month,
                        department=dept,
                        category=category,
                        amount=amount,
                    )
                )
    return {"costs": costs, "sales": sales}


def _months(now: datetime, count: int = 6) -> list[str]:
    """The `count` whole months before now's month, oldest first, as typed: 2025-09."""
    months = []
    year, month = now.year, now.month
    for _ in range(count):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        months.append(f"{year}-{month:02d}")
    return months[::-1]


# Helpers ------------------------------------------------------------------------------


def _row(table: str, **values: CellValue) -> Row:
    """A row with every field people type, blank unless given; owned fields refused."""
    spec = _spec(table)
    row: Row = {f.key: None for f in spec.fields if not f.owned}
    for key, value in values.items():
        if key not in row:
            raise KeyError(f"{table} has no field {key!r} that people type")
        row[key] = value
    return row


def _spec(table: str) -> TableSpec:
    return load_layout().table(table)


def _number(rows: list[Row], start: str, prefix: str) -> list[Row]:
    """Put rows in the order people appended them and number their ids."""
    dated: list[tuple[datetime, Row]] = []
    undated: list[Row] = []  # no start time yet: the newest rows, at the bottom
    for row in rows:
        value = row[start]
        if isinstance(value, datetime):
            dated.append((value, row))
        else:
            undated.append(row)
    dated.sort(key=lambda pair: pair[0])
    ordered = [row for _, row in dated] + undated
    count = 0
    for row in ordered:
        if row["id"] == AUTO_ID:
            count += 1
            row["id"] = f"{prefix}{count:04d}"
    for index, row in enumerate(ordered):
        if row["id"] == DUPLICATE_ID:
            row["id"] = _earlier_id(ordered[:index])
    return ordered


def _earlier_id(rows: list[Row]) -> CellValue:
    """The id of a row a few rows up: what a copied-and-pasted row would carry."""
    ids = [row["id"] for row in rows if row["id"] not in (None, DUPLICATE_ID)]
    return ids[-3] if len(ids) >= 3 else ids[0]


def _typed(demo: _Demo, moment: datetime) -> CellValue:
    """A timestamp as typed: mostly a datetime, sometimes text like 2025/9/3 14:00."""
    if demo.rng.random() < 0.04:
        return f"{moment.year}/{moment.month}/{moment.day} {moment:%H:%M}"
    return moment


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)
