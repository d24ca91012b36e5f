"""Task and model states, task types and function names as ML Commons spells them."""
from __future__ import annotations

import enum


class TaskState(str, enum.Enum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    COMPLETED_WITH_ERROR = "COMPLETED_WITH_ERROR"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_TASK_STATES


_TERMINAL_TASK_STATES = frozenset(
    {TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED, TaskState.COMPLETED_WITH_ERROR}
)

#: MLTask state moves; remote register skips RUNNING (it is not dispatched to a worker).
TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    TaskState.CREATED: frozenset(
        {TaskState.RUNNING, TaskState.COMPLETED, TaskState.FAILED,
         TaskState.COMPLETED_WITH_ERROR, TaskState.CANCELLED}
    ),
    TaskState.RUNNING: frozenset(
        {TaskState.COMPLETED, TaskState.FAILED, TaskState.COMPLETED_WITH_ERROR, TaskState.CANCELLED}
    ),
    TaskState.COMPLETED: frozenset(),
    TaskState.FAILED: frozenset(),
    TaskState.CANCELLED: frozenset(),
    TaskState.COMPLETED_WITH_ERROR: frozenset(),
}


class TaskType(str, enum.Enum):
    REGISTER_MODEL = "REGISTER_MODEL"
    DEPLOY_MODEL = "DEPLOY_MODEL"
    #: 2.17+: a remote batch job started by ``_batch_predict`` (the task holds ``remote_job``)
    BATCH_PREDICTION = "BATCH_PREDICTION"


class ModelState(str, enum.Enum):
    REGISTERING = "REGISTERING"
    REGISTERED = "REGISTERED"
    DEPLOYING = "DEPLOYING"
    DEPLOYED = "DEPLOYED"
    PARTIALLY_DEPLOYED = "PARTIALLY_DEPLOYED"
    UNDEPLOYED = "UNDEPLOYED"
    DEPLOY_FAILED = "DEPLOY_FAILED"

    @property
    def is_deploy_family(self) -> bool:
        """States the sync-up job reconciles (MLSyncUpCron)."""
        return self in {
            ModelState.DEPLOYING, ModelState.DEPLOYED,
            ModelState.PARTIALLY_DEPLOYED, ModelState.DEPLOY_FAILED,
        }

    @property
    def blocks_delete(self) -> bool:
        return self in {ModelState.DEPLOYING, ModelState.DEPLOYED, ModelState.PARTIALLY_DEPLOYED}


#: Which model states a model may move to.  Deploy is accepted from every state a
#: remote model can be in (re-deploy of DEPLOYED gives a new task that completes at
#: once); the sync-up job may move deploy-family states freely.
MODEL_TRANSITIONS: dict[ModelState, frozenset[ModelState]] = {
    ModelState.REGISTERED: frozenset({ModelState.DEPLOYING}),
    ModelState.DEPLOYING: frozenset(
        {ModelState.DEPLOYED, ModelState.PARTIALLY_DEPLOYED, ModelState.DEPLOY_FAILED,
         ModelState.UNDEPLOYED, ModelState.DEPLOYING}
    ),
    ModelState.DEPLOYED: frozenset(
        {ModelState.DEPLOYING, ModelState.UNDEPLOYED, ModelState.PARTIALLY_DEPLOYED,
         ModelState.DEPLOY_FAILED, ModelState.DEPLOYED}
    ),
    ModelState.PARTIALLY_DEPLOYED: frozenset(
        {ModelState.DEPLOYING, ModelState.UNDEPLOYED, ModelState.DEPLOYED,
         ModelState.DEPLOY_FAILED, ModelState.PARTIALLY_DEPLOYED}
    ),
    ModelState.UNDEPLOYED: frozenset({ModelState.DEPLOYING, ModelState.UNDEPLOYED}),
    ModelState.DEPLOY_FAILED: frozenset(
        {ModelState.DEPLOYING, ModelState.UNDEPLOYED, ModelState.DEPLOYED,
         ModelState.PARTIALLY_DEPLOYED}
    ),
    ModelState.REGISTERING: frozenset({ModelState.REGISTERED}),
}


class FunctionName(str, enum.Enum):
    LINEAR_REGRESSION = "LINEAR_REGRESSION"
    KMEANS = "KMEANS"
    AD_LIBSVM = "AD_LIBSVM"
    SAMPLE_ALGO = "SAMPLE_ALGO"
    LOCAL_SAMPLE_CALCULATOR = "LOCAL_SAMPLE_CALCULATOR"
    FIT_RCF = "FIT_RCF"
    BATCH_RCF = "BATCH_RCF"
    ANOMALY_LOCALIZATION = "ANOMALY_LOCALIZATION"
    RCF_SUMMARIZE = "RCF_SUMMARIZE"
    LOGISTIC_REGRESSION = "LOGISTIC_REGRESSION"
    TEXT_EMBEDDING = "TEXT_EMBEDDING"
    METRICS_CORRELATION = "METRICS_CORRELATION"
    REMOTE = "REMOTE"
    SPARSE_ENCODING = "SPARSE_ENCODING"
    SPARSE_TOKENIZE = "SPARSE_TOKENIZE"
    TEXT_SIMILARITY = "TEXT_SIMILARITY"
    AGENT = "AGENT"
    QUESTION_ANSWERING = "QUESTION_ANSWERING"
    CONNECTOR = "CONNECTOR"


#: Release in which each function name appeared (FunctionName.java history).
FUNCTION_NAME_SINCE: dict[FunctionName, tuple[int, int]] = {
    FunctionName.SPARSE_ENCODING: (2, 11),
    FunctionName.SPARSE_TOKENIZE: (2, 11),
    FunctionName.TEXT_SIMILARITY: (2, 12),
    FunctionName.AGENT: (2, 12),
    FunctionName.QUESTION_ANSWERING: (2, 13),
    FunctionName.CONNECTOR: (2, 15),
}


class AccessMode(str, enum.Enum):
    PUBLIC = "public"
    PRIVATE = "private"
    RESTRICTED = "restricted"
