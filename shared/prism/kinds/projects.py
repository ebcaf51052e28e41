"""Projects: v3 only, and the parser to `Project`.

v4 has projects only as a beta (`multidomain/v4.3.b1/config/projects`, no
payload found; spec nutanix/v4.md section 1), so the v4 route is None and the
client reads `POST /api/nutanix/v3/projects/list`.
"""

from __future__ import annotations

from typing import Any

from shared.prism.kinds import KindSpec, ParseContext
from shared.prism.kinds._values import dig, obj, require_id, require_object, text
from shared.prism.models import Project

_NO_CONTEXT = ParseContext()


def from_v3(entity: Any, ctx: ParseContext = _NO_CONTEXT) -> Project:
    entity = require_object(entity, "project entity")
    status, spec = obj(entity.get("status")), obj(entity.get("spec"))
    is_default = dig(status, "resources", "is_default")
    return Project(
        ext_id=require_id(dig(entity, "metadata", "uuid"), "project entity"),
        name=text(status.get("name")) or text(spec.get("name")) or "",
        description=text(status.get("description")) or text(spec.get("description")),
        is_default=is_default is True,
        raw=entity,
    )


SPEC = KindSpec(
    name="projects",
    v4_namespace=None,
    v4_version=None,
    v4_path=None,
    v3_kind="project",
    from_v4=None,
    from_v3=from_v3,
)
