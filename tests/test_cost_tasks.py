"""get_tasks ranges: which months a sync re-sends, and the `changed` windows that replace them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.cost import tasks
from shared.errors import InvalidInput

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"start": "2026-08-15"}, "2026-08"),
    ({"start": "2026-08"}, "2026-08"),
    ({"start": "2026-08-01T00:00:00Z"}, "2026-08"),
    ({"start": "2024-01-01"}, "2025-12"),  # clamped: CloudForet keeps 12 months
    ({"start": "2027-03-01"}, "2026-11"),  # never past the current month
    ({"last_synchronized_at": "2026-11-20T16:00:03.123Z"}, "2026-11"),
    ({"last_synchronized_at": "2026-11-01T16:00:00+00:00"}, "2026-10"),  # day before: Oct 31
    ({"last_synchronized_at": "2026-10-31T23:00:00"}, "2026-10"),
    ({"start": "2026-09", "last_synchronized_at": "2026-11-20T00:00:00Z"}, "2026-09"),
    ({}, "2026-11"),  # first sync, nothing recorded: the current month
    ({"backfill_months": 2}, "2026-09"),
    ({"first_recorded": date(2026, 7, 3)}, "2026-07"),
    ({"first_recorded": date(2024, 7, 3)}, "2025-12"),
    ({"last_synchronized_at": "garbage"}, "2026-11"),  # the server's value: fall back
])
def test_first_month(kwargs, expected):
    assert tasks.first_month(NOW, **kwargs) == expected


def test_bad_start_is_invalid_input():
    with pytest.raises(InvalidInput, match="start must be YYYY-MM"):
        tasks.first_month(NOW, start="last week")


def test_months_between_crosses_years():
    assert tasks.months_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01",
                                                          "2026-02"]
    assert tasks.add_months("2026-01", -13) == "2024-12"


def test_plan_one_task_per_month_and_cluster_and_a_changed_window_per_cluster():
    body = tasks.plan({"c2": "cluster-02", "c1": "cluster-01"}, ["2026-10", "2026-11"],
                      {"c1": 10_000, "c2": 40})
    assert [t["task_options"]["month"] + "/" + t["task_options"]["cluster"]
            for t in body["tasks"]] == ["2026-10/c1", "2026-10/c2", "2026-11/c1", "2026-11/c2"]
    assert body["tasks"][0]["task_options"] == {"month": "2026-10", "cluster": "c1",
                                                "cluster_name": "cluster-01",
                                                "days_per_call": 2}
    assert body["tasks"][1]["task_options"]["days_per_call"] == 31
    # YYYY-MM strings (compared with billed_month), one PC's clusters only
    assert body["changed"] == [
        {"start": "2026-10", "end": "2026-11", "filter": {"region_code": "c1"}},
        {"start": "2026-10", "end": "2026-11", "filter": {"region_code": "c2"}}]


def test_plan_without_months_is_empty():
    assert tasks.plan({"c1": "x"}, [], {}) == {"tasks": [], "changed": []}
