"""What each node keeps about a model besides its predictor: ML Commons' ``MLModelCache``.

Per node and model the plugin caches (``MLModelCacheHelper``): the target worker nodes of
the deploy, the latency windows the profile API reports (``model_inference_stats`` on the
node that ran the model, ``predict_request_stats`` on the node that received the REST
call), and the token buckets of the model-level ``rate_limiter`` and of the model
controller's ``user_rate_limiter`` map.  The buckets live in the cache, not in the
predictor: rebuilding a predictor (a model update, a controller change) hands the same
model-level bucket to the new one.  ``MLTaskManager`` likewise keeps the tasks a node is
running in memory; the profile API lists them.

Facts taken from the plugin source (3.8.0.0, unchanged since 2.12 where not said):

* ``MLModelManager.createTokenBucket``: ``rate = limit / unit.toNanos(1) / N`` tokens per
  nanosecond, ``burst = initial = max(limit / N, 1)`` where ``N`` is the deploy's
  eligible (target) node count; a limiter needs both ``limit`` and ``unit``
  (``MLRateLimiter.isValid``).  OpenSearch's ``TokenBucket`` refuses a rate <= 0 with
  ``IllegalArgumentException("rate must be greater than zero")``, so a limit of 0 fails
  the deploy on that node.
* ``RemoteConnectorExecutor.preparePayloadAndInvoke`` checks the buckets once per outgoing
  call, after the payload is rendered and validated and before the guardrails and the
  HTTP call: 429 ``Request is throttled at model level.``, then, for the calling user's
  name, 429 ``Request is throttled at user level. If you think there's an issue, please
  contact your cluster admin.``  Retries re-send the prepared request without a check.
* ``MLModelCache.addInferenceDuration``: each window keeps the last
  ``plugins.ml_commons.monitoring_request_count`` durations (0 keeps none);
  ``getInferenceStats`` reports count, max, min, average and Guava's linearly
  interpolated p50/p90/p99, or nothing for an empty window.
"""
from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

from mlcommons_emu.connectors.runtime import DeployedRemoteModel
from mlcommons_emu.errors import IllegalArgumentError, StatusError

if TYPE_CHECKING:
    from mlcommons_emu.cluster.nodes import Cluster

MODEL_THROTTLED = "Request is throttled at model level."
USER_THROTTLED = ("Request is throttled at user level. If you think there's an issue, please contact your "
                  "cluster admin.")

#: java.util.concurrent.TimeUnit.toNanos(1)
_UNIT_NANOS = {"NANOSECONDS": 1, "MICROSECONDS": 10**3, "MILLISECONDS": 10**6, "SECONDS": 10**9,
               "MINUTES": 60 * 10**9, "HOURS": 3600 * 10**9, "DAYS": 86400 * 10**9}


class TokenBucket:
    """``org.opensearch.common.util.TokenBucket`` over a nanosecond clock: continuous refill
    at ``rate`` tokens per nanosecond up to ``burst``; a request takes one whole token."""

    def __init__(self, rate: float, burst: float, initial: float | None = None,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        if rate <= 0.0:
            raise IllegalArgumentError("rate must be greater than zero")
        if burst <= 0.0:
            raise IllegalArgumentError("burst must be greater than zero")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = min(burst if initial is None else initial, burst)
        self.last = clock()

    def request(self) -> bool:
        now = self.clock()
        self.tokens = min(self.tokens + (now - self.last) * self.rate, self.burst)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def token_bucket(limiter: Mapping[str, Any] | None, node_count: int,
                 clock: Callable[[], int] = time.monotonic_ns) -> TokenBucket | None:
    """``createTokenBucket``: None unless both ``limit`` and ``unit`` are set."""
    if not limiter or limiter.get("limit") is None or limiter.get("unit") is None:
        return None
    try:
        limit = float(limiter["limit"])
    except (TypeError, ValueError):
        # Double.parseDouble's NumberFormatException (2.12 stored any limit text)
        raise IllegalArgumentError(f'For input string: "{limiter["limit"]}"') from None
    count = max(int(node_count), 1)
    share = limit / count
    return TokenBucket(limit / _UNIT_NANOS[str(limiter["unit"])] / count, max(share, 1.0), max(share, 1.0),
                       clock)


def user_buckets(limiters: Mapping[str, Mapping[str, Any]] | None, node_count: int) -> dict[str, TokenBucket] | None:
    """``setupUserRateLimiterMap``: a bucket per user (invalid limiters give none); an
    empty or missing map removes user-level throttling."""
    if not limiters:
        return None
    out: dict[str, TokenBucket] = {}
    for user, limiter in limiters.items():
        bucket = token_bucket(limiter, node_count)
        if bucket is not None:
            out[user] = bucket
    return out


class LatencyWindow:
    """One of ``MLModelCache``'s duration queues (milliseconds)."""

    def __init__(self) -> None:
        self.values: collections.deque[float] = collections.deque()

    def add(self, duration_ms: float, max_count: int) -> None:
        if max_count <= 0:
            self.values.clear()
            return
        while len(self.values) >= max_count:
            self.values.popleft()
        self.values.append(float(duration_ms))

    def stats(self) -> dict[str, Any] | None:
        if not self.values:
            return None
        values = sorted(self.values)
        count = len(values)
        return {"count": count, "max": values[-1], "min": values[0], "average": sum(values) / count,
                "p50": _percentile(values, 50), "p90": _percentile(values, 90), "p99": _percentile(values, 99)}


def _percentile(ordered: list[float], p: int) -> float:
    """Guava ``Quantiles.percentiles().index(p)``: linear interpolation at p * (n - 1) / 100."""
    position = p * (len(ordered) - 1)
    index, remainder = divmod(position, 100)
    if remainder == 0:
        return ordered[index]
    low, high = ordered[index], ordered[index + 1]
    return low + (remainder / 100) * (high - low)


class ModelEntry:
    """One node's ``MLModelCache`` for one model."""

    def __init__(self) -> None:
        self.inference = LatencyWindow()
        self.requests = LatencyWindow()
        self.rate_limiter: TokenBucket | None = None
        self.user_rate_limiters: dict[str, TokenBucket] | None = None
        #: the deploy task's worker nodes (``setTargetWorkerNodes``) and whether it was a
        #: deploy to all nodes
        self.target_worker_nodes: tuple[str, ...] = ()
        self.deploy_to_all_nodes = False
        #: the node deployed the model (``initModelState`` ran here)
        self.held = False
        #: the node is deploying the model (cache state DEPLOYING until it succeeds)
        self.deploying = False

    def check(self, user_name: str | None) -> None:
        """The executor's throttling checks, model level first."""
        if self.rate_limiter is not None and not self.rate_limiter.request():
            raise StatusError(MODEL_THROTTLED, 429)
        if user_name is not None and self.user_rate_limiters:
            bucket = self.user_rate_limiters.get(user_name)
            if bucket is not None and not bucket.request():
                raise StatusError(USER_THROTTLED, 429)


class NodeCache:
    """Everything one node caches: models by id and its running tasks by id."""

    def __init__(self) -> None:
        self.models: dict[str, ModelEntry] = {}
        self.tasks: dict[str, Any] = {}

    def model(self, model_id: str) -> ModelEntry:
        entry = self.models.get(model_id)
        if entry is None:
            entry = self.models[model_id] = ModelEntry()
        return entry

    def remove(self, model_id: str) -> None:
        """``MLModelCacheHelper.removeModel``: the whole entry goes (windows, buckets)."""
        self.models.pop(model_id, None)


def sync(cluster: "Cluster") -> None:
    """What the sync-up job leaves of the caches: an entry survives on a node while the node
    holds the model, or while some live node does (the routing table keeps it valid);
    otherwise ``MLModelCache.isValidCache`` fails and the entry is dropped.  A node that
    held a model and no longer does lost its entry when it undeployed (``removeModel``)."""
    deployed = {m for r in cluster.nodes if r.node.up for m in r.models}
    for runtime in cluster.nodes:
        cache = runtime.cache
        for model_id in list(cache.models):
            entry = cache.models[model_id]
            if model_id in runtime.models or entry.deploying:
                continue
            if entry.held or model_id not in deployed:
                cache.remove(model_id)


class ThrottledRemoteModel(DeployedRemoteModel):
    """A node's predictor whose outgoing calls pass the node cache's token buckets first.

    ``_send_with_retries`` runs once per outgoing call, after the call has been prepared
    (rendered and validated), and re-sends without coming back here, so a throttled call
    never reaches the provider and retries take no token.
    """

    entry: ModelEntry | None = None

    async def _send_with_retries(self, outbound: Any, transport: Any, action: Any,
                                 params: Mapping[str, str | None]) -> dict[str, Any]:
        if self.entry is not None:
            from mlcommons_emu.services import identity

            user = identity.caller()
            self.entry.check(user.name if user is not None else None)
        return await super()._send_with_retries(outbound, transport, action, params)
