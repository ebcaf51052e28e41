"""Rate-card arithmetic against hand-computed cases, and rate-card validation.

Prices used throughout (April 2026 has 30 days = 720 hours):
vCPU 0.01/h, memory 0.005/GiB-h, storage 0.30/GiB-month = 0.01/GiB-day,
host 720/month = 1.00 per host-hour.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.cost import ratecard
from shared.cost.compute import compute, labels, source_hours
from shared.cost.snapshots import RollupBuilder, VmRow, rollup_from_rows
from shared.errors import InvalidInput

DAY = date(2026, 4, 10)
AFTER = datetime(2026, 5, 1, tzinfo=UTC)  # the whole day is in the past
PRICES = {"vcpu_hour": 0.01, "memory_gib_hour": 0.005, "storage_gib_month": 0.30,
          "host_month": 720}
EPOCH_0 = 0  # created long before


def vm(ext_id, *, vcpus=2, mib=4096, disk=100.0, power="ON", host="h1", cats=(),
       project="", created=EPOCH_0, cluster="cl-1") -> VmRow:
    return VmRow(ext_id, ext_id.upper(), cluster, host if power == "ON" else "", project,
                 tuple(cats), vcpus, mib, disk, power, created)


def day_of(hours: dict[int, list[VmRow]], cluster="cl-1"):
    builder = RollupBuilder(DAY, cluster)
    for hour, rows in hours.items():
        builder.add_hour(hour, rows, cluster_name="cluster-1", projects={"p1": "web"})
    return builder.build()


def costs(rollup, options=None, *, now=AFTER, current=None, sources=None):
    card = ratecard.parse({**PRICES, **(options or {})})
    out = compute(card, rollup.cluster if rollup else "cl-1", [DAY],
                  {DAY: rollup} if sources is None and rollup else (sources or {}),
                  current, now)
    got = {}
    for vm_i, _, type_i, qty, cost in out.iter_rows():
        usage = ("vcpu", "memory", "storage", "host_share")[type_i]
        got[(out.vms[vm_i][0], usage)] = (round(qty, 6), round(cost, 6))
    return got, out


def test_full_day_powered_on_alone_on_its_host():
    got, _ = costs(day_of({h: [vm("a")] for h in range(24)}))
    assert got == {("a", "vcpu"): (48, 0.48),            # 2 vCPU x 24 h x 0.01
                   ("a", "memory"): (96, 0.48),          # 4 GiB x 24 h x 0.005
                   ("a", "storage"): (100, 1.0),         # 100 GiB x 1 day x 0.30/30
                   ("a", "host_share"): (24, 24.0)}      # the host's 24 hours x 1.00


def test_powered_off_pays_storage_only():
    got, _ = costs(day_of({h: [vm("b", vcpus=4, mib=8192, disk=50, power="OFF")]
                           for h in range(24)}))
    assert got == {("b", "storage"): (50, 0.5)}


def test_mid_day_creation_on_an_estimated_day_pays_from_its_creation_second():
    created = int(datetime(2026, 4, 10, 13, 30, tzinfo=UTC).timestamp())
    current = rollup_from_rows(date(2026, 4, 20), 5, "cl-1", [
        vm("c", vcpus=1, mib=2048, disk=20, host="h2", created=created),
        vm("late", created=int(datetime(2026, 4, 11, tzinfo=UTC).timestamp())),
    ]).at_last_hour()
    got, out = costs(None, current=current)
    # 13:30 -> 24:00 = 10.5 h; alone on h2 from hour 13: hours 13..23 = 11 host-hours
    assert got == {("c", "vcpu"): (10.5, 0.105), ("c", "memory"): (21, 0.105),
                   ("c", "storage"): (8.75, 0.0875), ("c", "host_share"): (11, 11.0)}
    assert out.estimated == [0]  # no snapshot that day: marked, and "late" not yet there


def test_cluster_rates_and_category_multipliers_multiply():
    options = {"cluster_rates": {"cluster-1": {"vcpu_hour": 0.02}},
               "category_multipliers": {"Environment:Production": 1.5, "AppTier:Database": 2}}
    rows = [vm("d", vcpus=1, mib=1024, disk=10,
               cats=[("AppTier", "Database"), ("Environment", "Production")])]
    got, _ = costs(day_of({h: rows for h in range(24)}), options)
    assert got == {("d", "vcpu"): (24, 1.44),      # 24 h x 0.02 (cluster) x 3
                   ("d", "memory"): (24, 0.36),    # 1 GiB x 24 h x 0.005 x 3
                   ("d", "storage"): (10, 0.3),    # 10 GiB-day x 0.01 x 3
                   ("d", "host_share"): (24, 24.0)}  # a host's share is never scaled


def test_cluster_rates_by_ext_id_win_over_name():
    options = {"cluster_rates": {"cluster-1": {"vcpu_hour": 0.02},
                                 "cl-1": {"vcpu_hour": 0.03, "host_month": 0}}}
    got, _ = costs(day_of({h: [vm("a")] for h in range(24)}), options)
    assert got[("a", "vcpu")] == (48, 1.44)
    assert ("a", "host_share") not in got


def test_host_share_split_equally_per_hour():
    a, e = vm("a"), vm("e", vcpus=1, mib=1024, disk=0)
    hours = {h: [a, e if h < 12 else e._replace(power_state="OFF", host="")]
             for h in range(24)}
    got, _ = costs(day_of(hours))
    # hours 0-11: two VMs on h1 -> 0.5 each; hours 12-23: a alone
    assert got[("a", "host_share")] == (18, 18.0)
    assert got[("e", "host_share")] == (6, 6.0)
    assert got[("e", "vcpu")] == (12, 0.12)
    assert ("e", "storage") not in got  # no disk, no storage row


def test_host_share_by_vcpus():
    a, e = vm("a"), vm("e", vcpus=1, mib=1024, disk=0)
    hours = {h: [a, e if h < 12 else e._replace(power_state="OFF", host="")]
             for h in range(24)}
    got, _ = costs(day_of(hours), {"host_share_by": "vcpus"})
    assert got[("a", "host_share")] == (20, 20.0)  # 12 x 2/3 + 12
    assert got[("e", "host_share")] == (4, 4.0)    # 12 x 1/3


def test_missing_hours_take_the_previous_snapshot():
    on, off = vm("f", disk=0), vm("f", disk=0, power="OFF")
    got, _ = costs(day_of({0: [on], 6: [on], 12: [off], 18: [off]}))
    assert got[("f", "vcpu")] == (24, 0.24)  # hours 0-11 on: 2 vCPU x 12 h
    assert source_hours(1 << 3 | 1 << 7, 10) == [3] * 7 + [7] * 3
    assert source_hours(1 << 6, 3) == [6, 6, 6]  # before the first: the first


def test_today_counts_up_to_the_current_hour():
    got, _ = costs(day_of({h: [vm("a")] for h in range(10)}),
                   now=datetime(2026, 4, 10, 9, 30, tzinfo=UTC))
    assert got[("a", "vcpu")] == (20, 0.2)  # hours 0..9
    assert got[("a", "storage")] == (pytest.approx(41.666667), pytest.approx(0.416667))


def test_future_days_cost_nothing():
    got, out = costs(day_of({0: [vm("a")]}), now=datetime(2026, 4, 9, tzinfo=UTC))
    assert got == {} and out.days == []


def test_a_retried_hour_replaces_never_adds():
    builder = RollupBuilder(DAY, "cl-1")
    builder.add_hour(3, [vm("a", vcpus=8)])
    builder.add_hour(3, [vm("a", vcpus=2)])  # the same hour again, VM resized meanwhile
    rollup = builder.build()
    assert [a[3] for a in rollup.alloc] == [2]
    assert rollup.hours == 1 << 3


def test_labels_tags_from_categories_and_project():
    tags, info = labels(["vm-1", "web-1", "p1", "web",
                         [["Environment", "Production"], ["Owner", "a"], ["Owner", "b"]]])
    assert tags == {"Environment": "Production", "Owner": "a,b", "Project": "web"}
    assert info == {"VM Name": "web-1", "Project UUID": "p1"}


# -- validation ---------------------------------------------------------------------------


def test_missing_and_bad_values_are_all_named():
    with pytest.raises(InvalidInput) as err:
        ratecard.parse({"vcpu_hour": -1, "currency": "usd",
                        "cluster_rates": {"c1": {"vcpu_hr": 1}},
                        "category_multipliers": {"Production": 1.5}})
    text = str(err.value)
    for expected in ("memory_gib_hour: is required", "storage_gib_month: is required",
                     "vcpu_hour: must be >= 0", "currency: has the wrong format",
                     "cluster_rates.c1.vcpu_hr: is not a known field",
                     "category_multipliers.Production: name must be Key:Value"):
        assert expected in text


@pytest.mark.parametrize("bad", [math.nan, math.inf, "0.1", True, None])
def test_prices_must_be_finite_numbers(bad):
    with pytest.raises(InvalidInput, match="vcpu_hour"):
        ratecard.parse({**PRICES, "vcpu_hour": bad})


def test_defaults_and_server_injected_keys_are_accepted():
    card = ratecard.parse({**PRICES, "secret_type": "MANUAL"})
    assert card.currency == "USD" and card.host_share_by == "vms"
    assert card.default.host_month == 720.0


@given(st.dictionaries(st.sampled_from([*ratecard.PRICES, "currency", "cluster_rates",
                                        "category_multipliers", "host_share_by", "x"]),
                       st.one_of(st.none(), st.booleans(), st.floats(), st.integers(),
                                 st.text(max_size=5),
                                 st.dictionaries(st.text(max_size=5), st.floats(),
                                                 max_size=2))))
def test_any_options_give_a_rate_card_or_invalid_input(options):
    try:
        card = ratecard.parse(options)
    except InvalidInput:
        return
    assert all(math.isfinite(getattr(card.default, p)) for p in ratecard.PRICES)
