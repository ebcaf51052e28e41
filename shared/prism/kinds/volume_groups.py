"""Volume groups: where they live in v4 and v3, and the parsers to `VolumeGroup`.

v4 `volumes.v4.config.VolumeGroup` names its cluster with a plain-string
`clusterReference` (spec nutanix/v4.md section 6). No v3 payload was found;
the v3 parser follows the swagger fields (spec nutanix/v3-fields.md,
volume_groups/list).
"""

from __future__ import annotations

from typing import Any

from shared.prism.kinds import KindSpec, ParseContext
from shared.prism.kinds._values import dig, obj, objs, require_id, require_object, text
from shared.prism.models import VolumeGroup

_NO_CONTEXT = ParseContext()


def from_v4(item: Any, ctx: ParseContext = _NO_CONTEXT) -> VolumeGroup:
    item = require_object(item, "volume group item")
    return VolumeGroup(
        ext_id=require_id(item.get("extId"), "volume group item"),
        name=text(item.get("name")) or "",
        cluster_ext_id=text(item.get("clusterReference")),
        description=text(item.get("description")),
        sharing_status=text(item.get("sharingStatus")),
        usage_type=text(item.get("usageType")),
        num_attachments=len(objs(item.get("attachments"))),
        raw=item,
    )


def from_v3(entity: Any, ctx: ParseContext = _NO_CONTEXT) -> VolumeGroup:
    entity = require_object(entity, "volume group entity")
    status, spec = obj(entity.get("status")), obj(entity.get("spec"))
    res = obj(status.get("resources")) or obj(spec.get("resources"))
    return VolumeGroup(
        ext_id=require_id(dig(entity, "metadata", "uuid"), "volume group entity"),
        name=text(status.get("name")) or text(spec.get("name")) or "",
        cluster_ext_id=text(dig(status, "cluster_reference", "uuid"))
        or text(dig(spec, "cluster_reference", "uuid")),
        description=text(status.get("description")) or text(spec.get("description")),
        sharing_status=text(res.get("sharing_status")),
        usage_type=text(res.get("usage_type")),
        num_attachments=len(objs(res.get("attachment_list"))),
        raw=entity,
    )


SPEC = KindSpec(
    name="volume_groups",
    v4_namespace="volumes",
    v4_version="v4.0",
    v4_path="config/volume-groups",
    v3_kind="volume_group",
    from_v4=from_v4,
    from_v3=from_v3,
)
