"""Allocation history in a real local-folder store: layout, idempotence, healing, compaction."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, date, datetime

import pytest

from shared.cost import focus, ratecard, snapshots
from shared.cost.compute import compute
from shared.cost.snapshots import Snapshot, VmRow
from shared.state import open_store

HOUR = datetime(2026, 4, 10, 0, tzinfo=UTC)
CLUSTERS = {"c1": "cluster-01", "c2": "cluster-02"}


def row(ext_id, cluster="c1", power="ON", vcpus=2) -> VmRow:
    return VmRow(ext_id, f"name-{ext_id}", cluster, "h1" if power == "ON" else "", "p1",
                 (("Environment", "Dev"),), vcpus, 2048, 40.0, power, 1_700_000_000)


def snap(hour: int, rows: list[VmRow], day: int = 10) -> Snapshot:
    return Snapshot(HOUR.replace(day=day, hour=hour), CLUSTERS, {"p1": "web"}, rows, "pc-1")


@pytest.fixture
def store(tmp_path):
    return open_store(f"file://{tmp_path}")


def test_layout_one_hourly_file_and_a_rollup_per_cluster(store):
    summary = snapshots.record(store, snap(5, [row("a"), row("b", "c2")]))
    assert sorted(store.list("cost/")) == [
        "cost/daily/2026-04-10/c1.json.gz", "cost/daily/2026-04-10/c2.json.gz",
        "cost/latest.json", "cost/snapshots/2026-04-10/05.jsonl.gz"]
    assert summary["vms"] == 2 and summary["clusters"] == 2
    back = snapshots.read_hourly(store, HOUR.replace(hour=5))
    assert back.rows == [row("a"), row("b", "c2")] and back.prism_central == "pc-1"
    rollup = snapshots.load_rollup(store, date(2026, 4, 10), "c1")
    assert rollup.hours == 1 << 5 and rollup.cluster_name == "cluster-01"
    assert rollup.vms == [["a", "name-a", "p1", 0, 1_700_000_000]]
    assert rollup.alloc == [[0, 1, 0, 2, 2048, 40.0, 0, 1 << 5]]
    assert store.get_json("cost/latest.json") == {"hour": "2026-04-10T05",
                                                   "clusters": ["c1", "c2"]}


def test_a_day_of_unchanged_vms_is_one_row_each(store):
    for hour in range(24):
        snapshots.record(store, snap(hour, [row("a"), row("b")]))
    rollup = snapshots.load_rollup(store, date(2026, 4, 10), "c1")
    assert [a[7] for a in rollup.alloc] == [snapshots.FULL_DAY] * 2


def test_a_retried_run_replaces_its_hour(store):
    snapshots.record(store, snap(3, [row("a", vcpus=8)]))
    snapshots.record(store, snap(3, [row("a", vcpus=2), row("new")]))
    rollup = snapshots.load_rollup(store, date(2026, 4, 10), "c1")
    assert sorted((rollup.vms[a[0]][0], a[3]) for a in rollup.alloc) == [("a", 2), ("new", 2)]


def test_a_lost_fold_heals_at_the_next_run(store):
    snapshots.record(store, snap(1, [row("a")]))
    snapshots.write_hourly(store, snap(2, [row("a", power="OFF")]))  # its fold was lost
    snapshots.record(store, snap(3, [row("a")]))
    rollup = snapshots.load_rollup(store, date(2026, 4, 10), "c1")
    assert rollup.hours == 0b1110
    off = [a for a in rollup.alloc if a[1] == 0]
    assert off and off[0][7] == 1 << 2


def test_rebuild_from_hourly_files_equals_the_incremental_rollup(store):
    for hour in (0, 4, 9):
        snapshots.record(store, snap(hour, [row("a", power="OFF" if hour == 4 else "ON"),
                                            row("b", "c2")]))
    incremental = snapshots.load_rollup(store, date(2026, 4, 10), "c1")
    store.delete("cost/daily/2026-04-10/c1.json.gz")
    rebuilt = {r.cluster: r for r in snapshots.rebuild_day(store, date(2026, 4, 10))}
    assert rebuilt["c1"] == incremental


def test_compaction_keeps_rollups_and_drops_old_hourly_files(store):
    snapshots.record(store, snap(0, [row("a")], day=1))
    snapshots.record(store, snap(0, [row("a")], day=9))
    snapshots.write_hourly(store, snap(0, [row("a")], day=2))  # never folded
    deleted = snapshots.compact(store, date(2026, 4, 10), keep_days=3)
    assert deleted == 2
    assert list(store.list("cost/snapshots/")) == ["cost/snapshots/2026-04-09/00.jsonl.gz"]
    assert snapshots.load_rollup(store, date(2026, 4, 2), "c1") is not None  # rebuilt first


def test_days_without_snapshots_use_the_latest_allocation(store):
    snapshots.record(store, snap(7, [row("a"), row("b", power="OFF")], day=20))
    days = [date(2026, 4, 19), date(2026, 4, 20)]
    sources = snapshots.StoredDays(store, "c1", date(2026, 4, 30))
    assert sources.get(days[0]) is None and sources.get(days[1]).hours == 1 << 7
    current = snapshots.latest_rollup(store, "c1", not_after=date(2026, 4, 30)).at_last_hour()
    assert current.hours == snapshots.FULL_DAY and len(current.alloc) == 2
    card = ratecard.parse({"vcpu_hour": 1, "memory_gib_hour": 0, "storage_gib_month": 0})
    out = compute(card, "c1", days, sources, lambda: current,
                  datetime(2026, 5, 1, tzinfo=UTC))
    assert out.days == ["2026-04-19", "2026-04-20"] and out.estimated == [0]
    vcpu_hours = {(out.days[d], out.vms[v][0]): q for v, d, t, q, _ in out.iter_rows()
                  if t == 0}
    # estimated day: a ran all day; recorded day: hour 7 stands for the whole day
    assert vcpu_hours == {("2026-04-19", "a"): 48, ("2026-04-20", "a"): 48}


def test_focus_csv_has_focus_columns_and_one_record_per_row(store):
    snapshots.record(store, snap(0, [row("a")]))
    card = ratecard.parse({"vcpu_hour": 0.01, "memory_gib_hour": 0.005,
                           "storage_gib_month": 0.3, "currency": "EUR"})
    day = date(2026, 4, 10)
    sources = snapshots.StoredDays(store, "c1", day)
    out = compute(card, "c1", [day], sources, None, datetime(2026, 5, 1, tzinfo=UTC),
                  cluster_name="cluster-01")
    writer = focus.FocusWriter()
    writer.write(out, "2026-04", account_id="pc-1", account_name="Nutanix showback")
    reader = csv.DictReader(io.StringIO(gzip.decompress(writer.finish()).decode()))
    records = list(reader)
    assert reader.fieldnames == list(focus.COLUMNS)
    assert {"BilledCost", "EffectiveCost", "ChargePeriodStart", "ResourceId"} <= set(
        reader.fieldnames)
    assert len(records) == writer.rows == 3  # vcpu, memory, storage
    vcpu = next(r for r in records if r["SkuId"] == "vcpu")
    assert vcpu["BilledCost"] == vcpu["EffectiveCost"] == "0.48"
    assert vcpu["ConsumedQuantity"] == "48" and vcpu["ConsumedUnit"] == "vCPU-Hour"
    assert vcpu["ListUnitPrice"] == "0.01" and vcpu["BillingCurrency"] == "EUR"
    assert vcpu["ChargePeriodStart"] == "2026-04-10T00:00:00Z"
    assert vcpu["ChargePeriodEnd"] == "2026-04-11T00:00:00Z"
    assert vcpu["BillingPeriodStart"] == "2026-04-01T00:00:00Z"
    assert vcpu["BillingPeriodEnd"] == "2026-05-01T00:00:00Z"
    assert vcpu["ResourceId"] == "a" and vcpu["RegionId"] == "c1"
    assert vcpu["RegionName"] == "cluster-01" and vcpu["SubAccountName"] == "web"
    assert vcpu["Tags"] == '{"Environment":"Dev","Project":"web"}'
    assert vcpu["x_Estimated"] == "false"
