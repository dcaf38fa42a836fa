"""Client of the Phoenix Jobs HTTP API.

    from phoenix_jobs import Client

    with Client("https://jobs.example.org", token) as jobs:
        job = jobs.submit("letter.generate", {"user_id": user_id, "offer": offer}, idempotency_key="letter-42")
        print(jobs.wait(job.id, timeout=120).result)

``AsyncClient`` has the same methods for asyncio.
"""

from ._client import AsyncClient, Client
from ._models import JobEvent, JobRequest, JobStatus, PhoenixJobsError, Submitted

__all__ = ["Client", "AsyncClient", "PhoenixJobsError", "JobRequest", "JobStatus", "JobEvent", "Submitted"]
