"""The clients: ``Client`` (blocking) and ``AsyncClient`` (asyncio), both over httpx."""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Dict, Iterator, List, Mapping, Optional, Sequence

import httpx

from ._models import (
    EventParser,
    JobEvent,
    JobRequest,
    JobStatus,
    PhoenixJobsError,
    Submitted,
    error_from,
    job_request,
    submitted_from,
)

#: Longest wait the API takes in one long poll (``GET /v1/jobs/{id}?wait=``).
MAX_POLL_WAIT = 60
#: How often a dropped event stream is opened again (from its last event) before the error is raised.
STREAM_RETRIES = 5


def _headers(token: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise error_from(response.status_code, response.headers, response.content)
    return response.json()


def _poll_wait(deadline: Optional[float]) -> int:
    """The wait of the next long poll: the API's longest, or what is left before ``deadline``."""
    if deadline is None:
        return MAX_POLL_WAIT
    return max(0, min(MAX_POLL_WAIT, int(deadline - time.monotonic())))


class _Reconnection:
    """When a dropped event stream is opened again: after a backoff growing from 0.2 s to 5 s, at most
    ``STREAM_RETRIES`` times in a row (an event received starts the count again)."""

    def __init__(self) -> None:
        self.failures = 0

    def received(self) -> None:
        self.failures = 0

    def next_wait(self) -> Optional[float]:
        """The wait before the next try, or ``None`` when the stream should fail."""
        self.failures += 1
        return None if self.failures > STREAM_RETRIES else min(2 ** self.failures * 0.1, 5)


def _stream_headers(token: str, last_event_id: Optional[str]) -> Dict[str, str]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    return headers


class Client:
    """The Phoenix Jobs API, blocking. ``token`` is a Supabase JWT: a user's (their own jobs of the types users
    submit) or a service_role key. Use it as a context manager, or call ``close()``."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, transport: Optional[httpx.BaseTransport] = None) -> None:
        self._token = token
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=_headers(token), timeout=timeout, transport=transport)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def submit(self, type: Any, payload: Optional[Mapping[str, Any]] = None, **options: Any) -> Submitted:
        """Submits one job: ``submit("letter.generate", {...}, idempotency_key="k")`` or ``submit(JobRequest(...))``."""
        return submitted_from(_check(self._http.post("/v1/jobs", json=job_request(type, payload, options).to_json())))

    def submit_batch(self, jobs: Sequence[JobRequest]) -> List[Submitted]:
        """Submits 1 to 1000 jobs at once: every one is checked first, and all are enqueued or none."""
        body = _check(self._http.post("/v1/jobs/batch", json={"jobs": [job.to_json() for job in jobs]}))
        return [submitted_from(job) for job in body["jobs"]]

    def get(self, job_id: str) -> JobStatus:
        """The job's state, attempts, last error, progress and result."""
        return JobStatus.from_json(_check(self._http.get(f"/v1/jobs/{job_id}")))

    def wait(self, job_id: str, timeout: Optional[float] = None) -> JobStatus:
        """The job once it ended (completed, dead or cancelled), by long polling; ``TimeoutError`` when it has
        not ended within ``timeout`` seconds (``None``: no limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = _poll_wait(deadline)
            response = self._http.get(f"/v1/jobs/{job_id}", params={"wait": wait}, timeout=wait + 30)
            status = JobStatus.from_json(_check(response))
            if status.finished:
                return status
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {status.state} after {timeout} s")

    def cancel(self, job_id: str) -> Dict[str, Any]:
        """Cancels a waiting job, or asks a running one's worker to cancel it (``cancelling`` is then true)."""
        return _check(self._http.delete(f"/v1/jobs/{job_id}"))

    def stream_token(self) -> str:
        """A token valid 10 minutes that opens this caller's event streams as ``?access_token=`` (for browsers)."""
        return _check(self._http.post("/v1/events/token"))["token"]

    def events(self, job_id: str, last_event_id: Optional[str] = None) -> Iterator[JobEvent]:
        """The job's events as they happen: first a ``status`` event (unless resuming after ``last_event_id``),
        then each change, ending after the job's last. A dropped connection is opened again from the last
        event received."""
        return self._follow(f"/v1/jobs/{job_id}/events", {}, last_event_id, one_job=True)

    def stream(self, queue: Optional[str] = None, last_event_id: Optional[str] = None) -> Iterator[JobEvent]:
        """Every job's events of the caller (a user), or of ``queue`` (a service); it does not end on its own."""
        return self._follow("/v1/events/stream", {"queue": queue} if queue else {}, last_event_id, one_job=False)

    def _follow(self, path: str, params: Mapping[str, str], last_event_id: Optional[str], one_job: bool) -> Iterator[JobEvent]:
        reconnection = _Reconnection()
        while True:
            try:
                with self._http.stream("GET", path, params=params, headers=_stream_headers(self._token, last_event_id), timeout=httpx.Timeout(30, read=None)) as response:
                    if response.status_code >= 400:
                        response.read()
                        raise error_from(response.status_code, response.headers, response.content)
                    for event in EventParser().feed(response.iter_lines()):
                        reconnection.received()
                        last_event_id = event.id or last_event_id
                        yield event
                        if one_job and event.ends_job:
                            return
                    if one_job:
                        return
            except httpx.TransportError:
                wait = reconnection.next_wait()
                if wait is None:
                    raise
                time.sleep(wait)


class AsyncClient:
    """The Phoenix Jobs API for asyncio; the same methods as ``Client``, as coroutines (``events`` and
    ``stream`` as async iterators). Use it as an async context manager, or call ``aclose()``."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, transport: Optional[httpx.AsyncBaseTransport] = None) -> None:
        self._token = token
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=_headers(token), timeout=timeout, transport=transport)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *_: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def submit(self, type: Any, payload: Optional[Mapping[str, Any]] = None, **options: Any) -> Submitted:
        return submitted_from(_check(await self._http.post("/v1/jobs", json=job_request(type, payload, options).to_json())))

    async def submit_batch(self, jobs: Sequence[JobRequest]) -> List[Submitted]:
        body = _check(await self._http.post("/v1/jobs/batch", json={"jobs": [job.to_json() for job in jobs]}))
        return [submitted_from(job) for job in body["jobs"]]

    async def get(self, job_id: str) -> JobStatus:
        return JobStatus.from_json(_check(await self._http.get(f"/v1/jobs/{job_id}")))

    async def wait(self, job_id: str, timeout: Optional[float] = None) -> JobStatus:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = _poll_wait(deadline)
            response = await self._http.get(f"/v1/jobs/{job_id}", params={"wait": wait}, timeout=wait + 30)
            status = JobStatus.from_json(_check(response))
            if status.finished:
                return status
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {status.state} after {timeout} s")

    async def cancel(self, job_id: str) -> Dict[str, Any]:
        return _check(await self._http.delete(f"/v1/jobs/{job_id}"))

    async def stream_token(self) -> str:
        return _check(await self._http.post("/v1/events/token"))["token"]

    def events(self, job_id: str, last_event_id: Optional[str] = None) -> AsyncIterator[JobEvent]:
        return self._follow(f"/v1/jobs/{job_id}/events", {}, last_event_id, one_job=True)

    def stream(self, queue: Optional[str] = None, last_event_id: Optional[str] = None) -> AsyncIterator[JobEvent]:
        return self._follow("/v1/events/stream", {"queue": queue} if queue else {}, last_event_id, one_job=False)

    async def _follow(self, path: str, params: Mapping[str, str], last_event_id: Optional[str], one_job: bool) -> AsyncIterator[JobEvent]:
        reconnection = _Reconnection()
        while True:
            try:
                async with self._http.stream("GET", path, params=params, headers=_stream_headers(self._token, last_event_id), timeout=httpx.Timeout(30, read=None)) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        raise error_from(response.status_code, response.headers, response.content)
                    parser = EventParser()
                    async for line in response.aiter_lines():
                        for event in parser.feed([line]):
                            reconnection.received()
                            last_event_id = event.id or last_event_id
                            yield event
                            if one_job and event.ends_job:
                                return
                    if one_job:
                        return
            except httpx.TransportError:
                wait = reconnection.next_wait()
                if wait is None:
                    raise
                await asyncio.sleep(wait)


