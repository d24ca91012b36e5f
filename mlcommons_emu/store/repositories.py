"""Typed repositories over one transaction: connectors, model groups, models, tasks."""
from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

from mlcommons_emu.domain.connector import Connector
from mlcommons_emu.domain.model import Model
from mlcommons_emu.domain.model_group import ModelGroup
from mlcommons_emu.domain.task import Task
from mlcommons_emu.store import rows
from mlcommons_emu.store.engine import StoredDocument, Transaction

E = TypeVar("E")


class Repository(Generic[E]):
    index: str
    _to_doc: Callable[[Any], dict[str, Any]]
    _from_doc: Callable[[dict[str, Any], str], Any]
    _lookups: Callable[[Any], dict[str, Any]]
    _id_attr: str

    def __init__(self, tx: Transaction, now: Callable[[], int]) -> None:
        self.tx = tx
        self._now = now

    async def exists(self) -> bool:
        return await self.tx.index_exists(self.index)

    async def get(self, doc_id: str) -> E | None:
        doc = await self.tx.get(self.index, doc_id)
        return type(self)._from_doc(doc.source, doc_id) if doc else None

    async def get_document(self, doc_id: str) -> StoredDocument | None:
        return await self.tx.get(self.index, doc_id)

    async def put(self, entity: E, *, if_seq_no: int | None = None, create_only: bool = False) -> StoredDocument:
        cls = type(self)
        return await self.tx.put(
            self.index, getattr(entity, cls._id_attr), cls._to_doc(entity), now=self._now(),
            lookups=cls._lookups(entity), if_seq_no=if_seq_no, create_only=create_only,
        )

    async def delete(self, doc_id: str) -> tuple[bool, int, int]:
        return await self.tx.delete(self.index, doc_id, now=self._now())

    async def find(self, **lookups: Any) -> list[E]:
        cls = type(self)
        return [cls._from_doc(d.source, d.doc_id) for d in await self.tx.find(self.index, **lookups)]

    async def find_documents(self, **lookups: Any) -> list[StoredDocument]:
        return await self.tx.find(self.index, **lookups)

    async def count(self, **lookups: Any) -> int:
        return await self.tx.count(self.index, **lookups)


class ConnectorRepository(Repository[Connector]):
    index = rows.CONNECTOR_INDEX
    _to_doc = staticmethod(rows.connector_to_document)
    _from_doc = staticmethod(rows.connector_from_document)
    _lookups = staticmethod(rows.connector_lookups)
    _id_attr = "connector_id"


class ModelGroupRepository(Repository[ModelGroup]):
    index = rows.MODEL_GROUP_INDEX
    _to_doc = staticmethod(rows.group_to_document)
    _from_doc = staticmethod(rows.group_from_document)
    _lookups = staticmethod(rows.group_lookups)
    _id_attr = "model_group_id"


class ModelRepository(Repository[Model]):
    index = rows.MODEL_INDEX
    _to_doc = staticmethod(rows.model_to_document)
    _from_doc = staticmethod(rows.model_from_document)
    _lookups = staticmethod(rows.model_lookups)
    _id_attr = "model_id"


class TaskRepository(Repository[Task]):
    index = rows.TASK_INDEX
    _to_doc = staticmethod(rows.task_to_document)
    _from_doc = staticmethod(rows.task_from_document)
    _lookups = staticmethod(rows.task_lookups)
    _id_attr = "task_id"


class Repositories:
    """All repositories of one transaction, plus the raw transaction for config docs."""

    def __init__(self, tx: Transaction, now: Callable[[], int]) -> None:
        self.tx = tx
        self.connectors = ConnectorRepository(tx, now)
        self.model_groups = ModelGroupRepository(tx, now)
        self.models = ModelRepository(tx, now)
        self.tasks = TaskRepository(tx, now)
