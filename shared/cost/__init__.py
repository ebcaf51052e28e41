"""Showback for Nutanix: rate card, allocation history, daily costs, FOCUS export.

Prism Central keeps no allocation history and issues no bill, so this package
records what each VM held every hour (`snapshots`), prices it with the
operator's rate card (`ratecard`, `compute`), packs replies (`reply`), cuts CloudForet's work into
(month, cluster) tasks (`tasks`), and writes FOCUS CSV (`focus`). `run` is
what the cost function serves; `summary` is a month at a glance for the demo.

Everything here is UTC: a `billed_date` is a UTC day, a snapshot a UTC hour.
"""

PROVIDER = "nutanix"  # = shared.mapping.cloud_service_types.PROVIDER (rule 15: one string)
PRODUCT = "VirtualMachine"

# usage_type, usage_unit; the index is what replies carry
USAGE_TYPES: tuple[tuple[str, str], ...] = (
    ("vcpu", "vCPU-Hour"),
    ("memory", "GiB-Hour"),
    ("storage", "GiB-Day"),
    ("host_share", "Host-Hour"),
)
VCPU, MEMORY, STORAGE, HOST_SHARE = range(4)
