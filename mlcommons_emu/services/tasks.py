"""Task use cases: get and delete."""
from __future__ import annotations

from typing import Any

from mlcommons_emu.domain.states import TaskState, TaskType
from mlcommons_emu.errors import GenericError, MLResourceNotFoundError, StatusError
from mlcommons_emu.services.context import Context
from mlcommons_emu.services.results import WriteResult
from mlcommons_emu.store import rows


def _not_found(ctx: Context, *, index_missing: bool) -> Exception:
    if ctx.release >= (2, 19):
        return StatusError("Failed to find task", 404)
    if index_missing:
        return MLResourceNotFoundError("Fail to find task")
    return StatusError("Fail to find task", 404)


async def get(ctx: Context, task_id: str) -> dict[str, Any]:
    async with ctx.transaction() as repos:
        exists = await repos.tasks.exists()
        doc = await repos.tasks.get_document(task_id) if exists else None
    if doc is None:
        raise _not_found(ctx, index_missing=not exists)
    if doc.source.get("task_type") == TaskType.BATCH_PREDICTION.value:
        from mlcommons_emu.services import batch

        return await batch.get_task(ctx, task_id, doc.source)
    return dict(doc.source)


async def delete(ctx: Context, task_id: str) -> WriteResult:
    async with ctx.transaction() as repos:
        exists = await repos.tasks.exists()
        # read raw: batch tasks may hold states (CANCELLING, EXPIRED) the Task entity lacks
        task = await repos.tasks.get_document(task_id) if exists else None
        if task is None:
            if ctx.release >= (2, 19):
                raise StatusError("Failed to find task", 404)
            raise MLResourceNotFoundError("Fail to find task")
        if task.source.get("state") == TaskState.RUNNING.value:
            suffix = "Try after some time." if ctx.release >= (2, 19) else "Try after sometime"
            raise GenericError(f"Task cannot be deleted in running state. {suffix}")
        found, version, seq_no = await repos.tasks.delete(task_id)
    return WriteResult(rows.TASK_INDEX, task_id, version, seq_no, "deleted" if found else "not_found")
