"""The single exception tree of mlcommons_emu; imports nothing from the package.

OpenSearch names an error on the wire after the Java exception class that raised it
(``IllegalArgumentException`` -> ``illegal_argument_exception``) and derives the HTTP
status from that class too.  ML Commons picks a different class for the same failure in
different releases (a 2.9 ``MLResourceNotFoundException`` answered 500, the 2.19
``OpenSearchStatusException`` answers 404), so the tree mirrors the Java classes the
plugin throws rather than abstract categories; the services choose the class the
emulated release would throw, and ``api/errors.py`` renders it::

    EmulatorError                      (base; never rendered directly)
      IllegalArgumentError             illegal_argument_exception        400
      StatusError(status)              status_exception                  as given
        RemoteConnectorThrottlingError remote_connector_throttling_exception
      ParseError                       parse_exception                   400
      ParsingError                     parsing_exception                 400
      JsonParseError                   json_parse_exception              400
      StreamConstraintsError           stream_constraints_exception      500
      ActionRequestValidationError     action_request_validation_exception 400
      IndexNotFoundError               index_not_found_exception         404
      ResourceNotFoundError            resource_not_found_exception      404
      VersionConflictError             version_conflict_engine_exception 409
      IllegalStateError                illegal_state_exception           500
      IOError_                         i_o_exception                     500
      GenericError                     exception                         500
      NullPointerError                 null_pointer_exception            500
      StringIndexOutOfBoundsError      string_index_out_of_bounds_exception 500
      MLError                          m_l_exception                     500
        MLValidationError              m_l_validation_exception          500
        MLResourceNotFoundError        m_l_resource_not_found_exception  500
        MLLimitExceededError           m_l_limit_exceeded_exception      500
      ScriptError                      script_exception                  400 (with script fields)
      QueryShardError                  query_shard_exception             400
      SearchPhaseError                 search_phase_execution_exception  the shard error's
      RouterError                      plain-string ``error`` body (no handler / wrong method)

Every class carries its wire ``type`` and default ``status`` so that one table lives in
one place; the message is ML Commons' own wording, copied exactly.
"""
from __future__ import annotations


class EmulatorError(Exception):
    """Base of every error the emulator raises on purpose."""

    type: str = "exception"
    status: int = 500
    #: OpenSearchException metadata written after ``reason`` (``index``, ``line``, ...)
    metadata: dict = {}
    #: the ``caused_by`` chain, when the Java exception wraps another
    caused_by: "EmulatorError | None" = None

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if status is not None:
            self.status = status

    def details(self, *, caused_by: "EmulatorError | None" = None, **metadata: object) -> "EmulatorError":
        """This error with metadata fields and a cause attached (returns self)."""
        self.metadata = {**self.metadata, **metadata}
        if caused_by is not None:
            self.caused_by = caused_by
        return self


class IllegalArgumentError(EmulatorError):
    type = "illegal_argument_exception"
    status = 400


class StatusError(EmulatorError):
    """OpenSearchStatusException: the plugin attaches an explicit HTTP status."""

    type = "status_exception"

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason, status=status)


class RemoteConnectorThrottlingError(StatusError):
    type = "remote_connector_throttling_exception"


class ParseError(EmulatorError):
    type = "parse_exception"
    status = 400


class ParsingError(EmulatorError):
    type = "parsing_exception"
    status = 400


class JsonParseError(EmulatorError):
    type = "json_parse_exception"
    status = 400


class StreamConstraintsError(EmulatorError):
    """Jackson's StreamConstraintsException (a body nested too deep, a number too long).

    It is neither a JsonParseException nor an OpenSearchException, so
    ``ExceptionsHelper.status`` maps it to 500.
    """

    type = "stream_constraints_exception"
    status = 500


class ActionRequestValidationError(EmulatorError):
    type = "action_request_validation_exception"
    status = 400

    def __init__(self, *messages: str) -> None:
        numbered = "".join(f"{i}: {m};" for i, m in enumerate(messages, 1))
        super().__init__(f"Validation Failed: {numbered}")


class IndexNotFoundError(EmulatorError):
    type = "index_not_found_exception"
    status = 404

    def __init__(self, index: str) -> None:
        super().__init__(f"no such index [{index}]")
        self.index = index
        # IndexNotFoundException sets the resource and the index (uuid unknown: "_na_")
        self.metadata = {"resource.type": "index_or_alias", "resource.id": index, "index_uuid": "_na_",
                         "index": index}


class ResourceNotFoundError(EmulatorError):
    type = "resource_not_found_exception"
    status = 404


class VersionConflictError(EmulatorError):
    type = "version_conflict_engine_exception"
    status = 409


class IllegalStateError(EmulatorError):
    type = "illegal_state_exception"
    status = 500


class IOError_(EmulatorError):
    type = "i_o_exception"
    status = 500


class GenericError(EmulatorError):
    """A plain java.lang.Exception: rendered as type ``exception``, status 500."""

    type = "exception"
    status = 500


class NullPointerError(EmulatorError):
    """java.lang.NullPointerException, where the plugin really lets one escape."""

    type = "null_pointer_exception"
    status = 500


class StringIndexOutOfBoundsError(EmulatorError):
    """java.lang.StringIndexOutOfBoundsException, escaping the plugin's payload check."""

    type = "string_index_out_of_bounds_exception"
    status = 500


class MLError(EmulatorError):
    type = "m_l_exception"
    status = 500


class MLValidationError(MLError):
    type = "m_l_validation_exception"


class MLResourceNotFoundError(MLError):
    type = "m_l_resource_not_found_exception"


class MLLimitExceededError(MLError):
    type = "m_l_limit_exceeded_exception"


class ScriptError(EmulatorError):
    """A Painless script failure, rendered by OpenSearch core with the script's fields."""

    type = "script_exception"
    status = 400

    def __init__(self, reason: str, *, script: str, lang: str = "painless",
                 script_stack: list[str] | None = None, position: dict | None = None,
                 cause: EmulatorError | None = None) -> None:
        super().__init__(reason)
        self.script = script
        self.lang = lang
        self.script_stack = script_stack or []
        self.position = position
        self.cause = cause


class QueryShardError(EmulatorError):
    type = "query_shard_exception"
    status = 400


class SearchPhaseError(EmulatorError):
    """SearchPhaseExecutionException: every shard failed; the shard's error is the cause.

    Its status is the shard failure's; the root causes are the shard failures'.
    """

    type = "search_phase_execution_exception"

    def __init__(self, shard_error: EmulatorError, *, index: str, node_id: str, phase: str = "query") -> None:
        super().__init__("all shards failed", status=shard_error.status)
        self.shard_error = shard_error
        self.metadata = {"phase": phase, "grouped": True,
                         "failed_shards": [{"shard": 0, "index": index, "node": node_id}]}
        self.caused_by = shard_error


class RouterError(EmulatorError):
    """OpenSearch core's router answer: ``{"error": "<text>", "status": N}``."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason, status=status)


class CredentialError(EmulatorError):
    """Decrypting or signing with a connector credential failed."""

    type = "m_l_exception"
    status = 500
