"""ML tasks: the async records of register and deploy."""
from __future__ import annotations

import attrs

from mlcommons_emu.domain.states import TaskState, TaskType


@attrs.frozen
class Task:
    task_id: str
    task_type: TaskType
    function_name: str
    state: TaskState
    worker_node: tuple[str, ...]
    create_time: int
    last_update_time: int
    is_async: bool
    model_id: str | None = None
    error: str | None = None
