"""Model groups: the unit of model access control and of version numbering."""
from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class ModelGroup:
    model_group_id: str
    name: str
    latest_version: int = 0
    description: str | None = None
    backend_roles: tuple[str, ...] | None = None
    owner: dict[str, Any] | None = None
    access: str | None = "public"
    created_time: int | None = None
    last_updated_time: int | None = None

    def next_version(self, now: int) -> "ModelGroup":
        return attrs.evolve(self, latest_version=self.latest_version + 1, last_updated_time=now)
