"""Subnets: where they live in v4 and v3, and the parsers to `Subnet`.

v4 `networking.v4.config.Subnet` names its cluster with a plain-string
`clusterReference` and its VLAN with `networkId`, which holds the VNI for
overlay subnets, so `vlan_id` is set for VLAN subnets only (spec
nutanix/v4-models.md, Subnet). The CIDR comes from the first IPv4 config
(`ipSubnet.ip` + `ipSubnet.prefixLength`; the address's own prefixLength is
always 32), else the newer `ipPrefix`. v3 gives `vlan_id`, `subnet_ip` and
`prefix_length` directly. Overlay subnets have no cluster in either API.
"""

from __future__ import annotations

from typing import Any

from shared.prism.kinds import KindSpec, ParseContext
from shared.prism.kinds._values import (
    dig,
    integer,
    ip,
    obj,
    objs,
    require_id,
    require_object,
    text,
)
from shared.prism.models import Subnet

VLAN = "VLAN"
_NO_CONTEXT = ParseContext()


def from_v4(item: Any, ctx: ParseContext = _NO_CONTEXT) -> Subnet:
    item = require_object(item, "subnet item")
    subnet_type = text(item.get("subnetType"))
    ipv4 = next((obj(c.get("ipv4")) for c in objs(item.get("ipConfig")) if c.get("ipv4")), {})
    return Subnet(
        ext_id=require_id(item.get("extId"), "subnet item"),
        name=text(item.get("name")) or "",
        subnet_type=subnet_type,
        vlan_id=integer(item.get("networkId")) if subnet_type == VLAN else None,
        cluster_ext_id=text(item.get("clusterReference")),
        cidr=_cidr(ip(dig(ipv4, "ipSubnet", "ip")), dig(ipv4, "ipSubnet", "prefixLength"))
        or text(item.get("ipPrefix")),
        gateway=ip(ipv4.get("defaultGatewayIp")),
        raw=item,
    )


def from_v3(entity: Any, ctx: ParseContext = _NO_CONTEXT) -> Subnet:
    entity = require_object(entity, "subnet entity")
    status = obj(entity.get("status"))
    res = obj(status.get("resources")) or obj(dig(entity, "spec", "resources"))
    config = obj(res.get("ip_config"))
    return Subnet(
        ext_id=require_id(dig(entity, "metadata", "uuid"), "subnet entity"),
        name=text(status.get("name")) or text(dig(entity, "spec", "name")) or "",
        subnet_type=text(res.get("subnet_type")),
        vlan_id=integer(res.get("vlan_id")),
        cluster_ext_id=text(dig(status, "cluster_reference", "uuid"))
        or text(dig(entity, "spec", "cluster_reference", "uuid")),
        cidr=_cidr(text(config.get("subnet_ip")), config.get("prefix_length")),
        gateway=text(config.get("default_gateway_ip")),
        raw=entity,
    )


def _cidr(address: str | None, prefix: Any) -> str | None:
    length = integer(prefix)
    if address is None or length is None:
        return None
    return f"{address}/{length}"


SPEC = KindSpec(
    name="subnets",
    v4_namespace="networking",
    v4_version="v4.0",
    v4_path="config/subnets",
    v3_kind="subnet",
    from_v4=from_v4,
    from_v3=from_v3,
)
