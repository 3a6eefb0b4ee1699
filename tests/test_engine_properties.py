"""Rules of the cycle that hold for any rows: a written plan leaves nothing to do."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automation.configload import load_config
from automation.engine import run_cycle
from automation.model import CellValue, same_value
from tests.memory_backend import MemoryBackend
from tests.test_engine import LAYOUT, SHANGHAI, grid

NOW = datetime(2025, 10, 15, 10, 0, tzinfo=SHANGHAI)
TIMES = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(2025, 4, 1), max_value=datetime(2025, 10, 15, 9, 59)
    ).map(lambda moment: moment.replace(second=0, microsecond=0)),
    st.sampled_from(["2025/9/30 14:00", "2025年10月9日", "下周三", ""]),
)
REQUESTS = st.fixed_dictionaries(
    {
        "id": st.one_of(st.none(), st.sampled_from(["REQ-00001", "REQ-00002", "7"])),
        "submitted_at": TIMES,
        "department": st.sampled_from(["销售一部", "Sales 2", "市场部", None]),
        "requester": st.sampled_from(["赵敏", "张三", "路人甲", None]),
        "type": st.sampled_from(["展会物料", "现场紧急缺货", "合同追加", "其他", "?"]),
        "content": st.sampled_from(["展会样品10套", "=1+1", "", "<b>x</b>"]),
        "quantity": st.one_of(st.none(), st.integers(-3, 500), st.just("十")),
        "required_by": TIMES,
        "owner": st.sampled_from(["张三", "李四", "", "王五"]),
        "status": st.sampled_from(
            ["新提报", "处理中", "等待客户", "Done", "已取消", "?"]
        ),
        "done_at": TIMES,
    }
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(REQUESTS, min_size=1, max_size=4), later=st.integers(0, 72))
def test_after_a_written_plan_the_same_cycle_plans_nothing(
    rows: list[dict[str, CellValue]], later: int
) -> None:
    backend = MemoryBackend({"需求提报": grid("requests", rows)})
    config, _ = load_config(backend.read(), LAYOUT)
    now = NOW + timedelta(hours=later)

    first = run_cycle(backend.read(), LAYOUT, config, {}, now)
    report = backend.write(backend.read(), first.plan, LAYOUT, "zh")
    assert report.rows_skipped == ()

    again = run_cycle(backend.read(), LAYOUT, config, {}, now)
    assert again.plan.edits == []
    assert again.plan.outputs == []


@given(
    value=st.one_of(
        st.none(),
        st.text(max_size=8),
        st.integers(),
        st.floats(allow_nan=False),
        st.booleans(),
        st.datetimes(),
        st.dates(),
    )
)
def test_a_value_is_always_the_same_as_itself(value: CellValue) -> None:
    assert same_value(value, value)
