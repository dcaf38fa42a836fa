"""What the API takes and answers, as typed values, and how requests and answers are built and read.

Both clients (sync and async) share everything here; they differ only in how they send.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional

#: States after which a job changes no more (only an operator's retry brings a dead job back).
FINAL_STATES = frozenset({"completed", "dead", "cancelled"})
#: Event kinds after which a job's event stream ends.
FINAL_EVENTS = FINAL_STATES


class PhoenixJobsError(Exception):
    """An answer other than success: its HTTP status, the API's error code and message, and, for 429 and 503,
    how many seconds the API asked to wait (``retry_after``)."""

    def __init__(self, status: int, code: str, message: str, retry_after: Optional[float] = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class JobRequest:
    """One job to submit. ``idempotency_key`` makes a repeated submission answer the first job instead of
    adding a second one (``Submitted.created`` is then false)."""

    type: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    queue: Optional[str] = None
    delay_seconds: Optional[float] = None
    priority: int = 0
    idempotency_key: Optional[str] = None
    correlation_id: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        body: Dict[str, Any] = {"type": self.type, "payload": dict(self.payload)}
        optional = {
            "queue": self.queue,
            "delaySeconds": self.delay_seconds,
            "idempotencyKey": self.idempotency_key,
            "correlationId": self.correlation_id,
        }
        body.update({name: value for name, value in optional.items() if value is not None})
        if self.priority:
            body["priority"] = self.priority
        return body


@dataclass(frozen=True)
class Submitted:
    """A submission's answer: the job's id, and whether this call created it."""

    id: str
    created: bool


@dataclass(frozen=True)
class JobStatus:
    """A job as ``GET /v1/jobs/{id}`` answers it. ``raw`` holds the whole answer."""

    id: str
    type: str
    queue: str
    state: str
    attempt: int
    max_attempts: Optional[int]
    last_error: Optional[str]
    progress: Optional[float]
    progress_message: Optional[str]
    result: Any
    cancelling: bool
    archived: bool
    raw: Mapping[str, Any]

    @property
    def finished(self) -> bool:
        """Whether the job has ended (completed, dead or cancelled)."""
        return self.state in FINAL_STATES

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "JobStatus":
        return cls(
            id=body["id"],
            type=body["type"],
            queue=body["queue"],
            state=body["state"],
            attempt=body.get("attempt", 0),
            max_attempts=body.get("max_attempts"),
            last_error=body.get("last_error"),
            progress=body.get("progress"),
            progress_message=body.get("progress_message"),
            result=body.get("result"),
            cancelling=bool(body.get("cancelling", False)),
            archived=bool(body.get("archived", False)),
            raw=body,
        )


@dataclass(frozen=True)
class JobEvent:
    """One server-sent event of a job stream: ``kind`` is ``status`` (the job when the stream opened; ``data``
    is a job status), ``ready`` (a caller's stream began), or what happened to a job (``queued``, ``started``,
    ``progress``, ``completed``, ``failed``, ``dead``, ``cancelled``). ``id`` resumes the stream after it."""

    kind: str
    data: Mapping[str, Any]
    id: Optional[str]

    @property
    def job_id(self) -> Optional[str]:
        return self.data.get("id")

    @property
    def ends_job(self) -> bool:
        """Whether the job ended with this event (or had ended, for a ``status`` event)."""
        if self.kind == "status":
            return self.data.get("state") in FINAL_STATES
        return self.kind in FINAL_EVENTS


class EventParser:
    """Reads the ``text/event-stream`` format line by line: events end with a blank line; comment lines
    (``: keep-alive``) are passed over."""

    def __init__(self) -> None:
        self._kind = "message"
        self._data: List[str] = []
        self._id: Optional[str] = None

    def feed(self, lines: Iterable[str]) -> Iterator[JobEvent]:
        for line in lines:
            line = line.rstrip("\r\n")
            if line == "":
                if self._data:
                    yield JobEvent(kind=self._kind, data=json.loads("\n".join(self._data)), id=self._id)
                self._kind, self._data, self._id = "message", [], None
            elif line.startswith(":"):
                continue
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "event":
                    self._kind = value
                elif name == "data":
                    self._data.append(value)
                elif name == "id":
                    self._id = value


def error_from(status: int, headers: Mapping[str, str], body: bytes) -> PhoenixJobsError:
    """The error an unsuccessful answer describes."""
    code, message = f"http_{status}", body.decode("utf-8", "replace")[:500]
    try:
        error = json.loads(body)["error"]
        code, message = error["code"], error["message"]
    except (ValueError, KeyError, TypeError):
        pass
    retry_after = headers.get("retry-after")
    return PhoenixJobsError(status, code, message, float(retry_after) if retry_after and retry_after.isdigit() else None)


def submitted_from(body: Mapping[str, Any]) -> Submitted:
    return Submitted(id=body["id"], created=bool(body["created"]))


def job_request(type_or_request: Any, payload: Optional[Mapping[str, Any]], options: Mapping[str, Any]) -> JobRequest:
    """A ``JobRequest`` from ``submit``'s arguments: one given whole, or a type with a payload and options."""
    if isinstance(type_or_request, JobRequest):
        if payload is not None or options:
            raise TypeError("pass either a JobRequest or a type with its payload and options, not both")
        return type_or_request
    return JobRequest(type=type_or_request, payload=payload or {}, **options)
