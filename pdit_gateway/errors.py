"""The gateway's exception hierarchy; every error a client can see has a wire ``code``."""

from __future__ import annotations


class GatewayError(Exception):
    """Base class of every error the gateway raises on purpose.

    Parameters
    ----------
    message : str
        A sentence for a person.
    execution_id : str, optional
        The execution the error is about, when there is one.
    """

    code = "internal-error"

    def __init__(self, message: str, *, execution_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.execution_id = execution_id

    def to_event(self) -> dict[str, object]:
        """Return the ``error`` event payload for this error."""
        event: dict[str, object] = {"type": "error", "code": self.code, "message": self.message}
        if self.execution_id is not None:
            event["executionId"] = self.execution_id
        return event


class ProtocolError(GatewayError):
    """A client frame that cannot be served as sent."""

    code = "invalid-frame"


class InvalidJSONError(ProtocolError):
    """A frame that is not JSON."""

    code = "invalid-json"


class MessageTooLargeError(ProtocolError):
    """A frame larger than ``max_message_size``."""

    code = "message-too-large"


class UnknownTypeError(ProtocolError):
    """A frame whose ``type`` is not one the server knows."""

    code = "unknown-type"


class MissingFieldError(ProtocolError):
    """A frame without a field its type requires."""

    code = "missing-field"


class InvalidFieldError(ProtocolError):
    """A frame with a field of the wrong type or value."""

    code = "invalid-field"


class DuplicateExecutionIdError(GatewayError):
    """An ``executionId`` already used in the session's retained history."""

    code = "duplicate-execution-id"


class UnknownExecutionError(GatewayError):
    """An ``executionId`` the session does not know."""

    code = "unknown-execution"


class QueueFullError(GatewayError):
    """The session already holds ``max_queue`` executions."""

    code = "queue-full"


class TooManyClientsError(GatewayError):
    """The session already has ``max_clients_per_session`` connections."""

    code = "too-many-clients"


class SessionClosedError(GatewayError):
    """The session was shut down while the request was made."""

    code = "session-closed"


class UnknownSessionError(GatewayError):
    """No session with that id."""

    code = "unknown-session"


class InvalidSessionIdError(GatewayError):
    """A session id outside ``[A-Za-z0-9_.-]{1,128}``."""

    code = "invalid-session-id"


class KernelUnavailableError(GatewayError):
    """The session's kernel could not be started or reached."""

    code = "kernel-unavailable"


class ExecutionFinishedError(GatewayError):
    """A request about an execution that has already ended."""

    code = "execution-finished"


class NoInputPendingError(GatewayError):
    """An ``input-reply`` came while no statement waits in ``input()``."""

    code = "no-input-pending"


class SessionBusyError(GatewayError):
    """``whenBusy: "reject"`` while another execution runs or waits; sent as ``busy``."""

    code = "busy"

    def to_event(self) -> dict[str, object]:
        """Return the ``busy`` event payload."""
        event: dict[str, object] = {"type": "busy"}
        if self.execution_id is not None:
            event["executionId"] = self.execution_id
        return event


class FileAccessError(GatewayError):
    """A file API request (pdit's list, save or watch) that cannot be served; HTTP 400."""

    code = "invalid-path"
    status = 400


class PathOutsideRootError(FileAccessError):
    """A path outside the server's root_dir (absolute, ``..``, a symlink leading out); 403."""

    code = "forbidden-path"
    status = 403


class FileMissingError(FileAccessError):
    """A file or folder that does not exist; 404."""

    code = "file-not-found"
    status = 404


class FileTooLargeError(FileAccessError):
    """A file (read, watched or saved) larger than ``max_file_bytes``; HTTP 413."""

    code = "file-too-large"
    status = 413


class NotRegularFileError(FileAccessError):
    """A path that names a FIFO, a device or a socket: only regular files are read; 400."""

    code = "not-a-file"
    status = 400


class HiddenPathError(FileAccessError):
    """A hidden file or folder while the ContentsManager's ``allow_hidden`` is off; 403."""

    code = "hidden-path"
    status = 403


class WatchUnavailableError(FileAccessError):
    """A file whose folder cannot be watched at all (neither notified nor polled)."""

    code = "watch-unavailable"
    status = 503


class StoreUnavailableError(GatewayError):
    """The execution store (``db_path``) could not be opened; the gateway's routes answer 503."""

    code = "store-unavailable"


class StoreWriteError(GatewayError):
    """Writing to the execution store failed: results are not being kept."""

    code = "store-write-failed"


class PditUIUnavailableError(GatewayError):
    """``pdit_ui`` is on but the ``pdit`` package (its web client) is not installed."""

    code = "pdit-ui-unavailable"


class StoreError(GatewayError):
    """The execution database cannot be opened or read."""

    code = "store-error"


class IntrospectionTimeoutError(GatewayError):
    """The kernel did not answer a ``complete`` or ``inspect`` request in time."""

    code = "introspection-timeout"


class IntrospectionUnavailableError(GatewayError):
    """The session's kernel cannot be asked for completions here (a remote kernel)."""

    code = "introspection-unavailable"


class UnknownKernelSpecError(GatewayError):
    """A ``change-kernel`` naming a kernel spec the server does not have."""

    code = "unknown-kernel-spec"


class NoExecutionError(GatewayError):
    """An export of a session with no execution of the script to export."""

    code = "no-execution"
