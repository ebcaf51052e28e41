"""Images: where they live in v4 and v3, and the parsers to `Image`.

No real v4 images payload was found; the v4 parser follows the SDK model
`vmm.v4.content.Image` (spec nutanix/v4-models.md). Cluster ids are sorted:
they are a set (v4 `clusterLocationExtIds`, v3
`current_cluster_reference_list`), and sorting keeps v3 and v4 equal.
"""

from __future__ import annotations

from typing import Any

from shared.prism.kinds import KindSpec, ParseContext
from shared.prism.kinds._values import (
    dig,
    integer,
    obj,
    objs,
    require_id,
    require_object,
    text,
    texts,
    timestamp,
)
from shared.prism.models import Image

_NO_CONTEXT = ParseContext()


def from_v4(item: Any, ctx: ParseContext = _NO_CONTEXT) -> Image:
    item = require_object(item, "image item")
    return Image(
        ext_id=require_id(item.get("extId"), "image item"),
        name=text(item.get("name")) or "",
        image_type=text(item.get("type")),
        size_bytes=integer(item.get("sizeBytes")),
        description=text(item.get("description")),
        cluster_ext_ids=tuple(sorted(set(texts(item.get("clusterLocationExtIds"))))),
        created_at=timestamp(item.get("createTime")),
        raw=item,
    )


def from_v3(entity: Any, ctx: ParseContext = _NO_CONTEXT) -> Image:
    entity = require_object(entity, "image entity")
    status, spec = obj(entity.get("status")), obj(entity.get("spec"))
    res = obj(status.get("resources")) or obj(spec.get("resources"))
    clusters = (text(c.get("uuid")) for c in objs(res.get("current_cluster_reference_list")))
    return Image(
        ext_id=require_id(dig(entity, "metadata", "uuid"), "image entity"),
        name=text(status.get("name")) or text(spec.get("name")) or "",
        image_type=text(res.get("image_type")),
        size_bytes=integer(res.get("size_bytes")),
        description=text(status.get("description")) or text(spec.get("description")),
        cluster_ext_ids=tuple(sorted({c for c in clusters if c})),
        created_at=timestamp(dig(entity, "metadata", "creation_time")),
        raw=entity,
    )


SPEC = KindSpec(
    name="images",
    v4_namespace="vmm",
    v4_version="v4.0",
    v4_path="content/images",
    v3_kind="image",
    from_v4=from_v4,
    from_v3=from_v3,
)
