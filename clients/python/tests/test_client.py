"""The Python client against a live phoenix serve."""

import asyncio
import uuid

import pytest

from phoenix_jobs import AsyncClient, Client, JobRequest, PhoenixJobsError


def test_a_submitted_job_is_waited_for_until_it_completes(base_url, service_token):
    with Client(base_url, service_token) as jobs:
        job = jobs.submit("diagnostic.noop")
        assert job.created
        done = jobs.wait(job.id, timeout=60)
        assert done.state == "completed" and done.finished and done.id == job.id
        assert jobs.get(job.id).state == "completed"


def test_a_batch_with_idempotency_keys_adds_each_job_once(base_url, service_token):
    keys = [f"py-{uuid.uuid4()}" for _ in range(3)]
    batch = [JobRequest(type="diagnostic.noop", idempotency_key=key) for key in keys]
    with Client(base_url, service_token) as jobs:
        first = jobs.submit_batch(batch)
        again = jobs.submit_batch(batch)
    assert [job.created for job in first] == [True, True, True]
    assert [job.created for job in again] == [False, False, False]
    assert [job.id for job in again] == [job.id for job in first]


def test_a_jobs_events_follow_it_to_its_end_and_resume_after_an_event(base_url, service_token, paused_diagnostics):
    with Client(base_url, service_token) as jobs:
        job = jobs.submit("diagnostic.noop")
        events = jobs.events(job.id)
        status = next(events)
        assert status.kind == "status" and status.data["state"] == "ready"
        paused_diagnostics()
        kinds = [event.kind for event in events]
        assert kinds == ["started", "completed"]
        resumed = [event.kind for event in jobs.events(job.id, last_event_id=status.id)]
        assert resumed == ["started", "completed"]


def test_errors_carry_the_status_and_the_apis_code(base_url, service_token, user_token):
    with Client(base_url, service_token) as jobs:
        with pytest.raises(PhoenixJobsError) as refused:
            jobs.submit("no.such_type")
        assert refused.value.status == 422 and refused.value.code == "invalid_job"
        job = jobs.submit("diagnostic.noop", delay_seconds=600)
    # Another caller's job is no job at all.
    with Client(base_url, user_token(str(uuid.uuid4()))) as stranger:
        with pytest.raises(PhoenixJobsError) as hidden:
            stranger.get(job.id)
        assert hidden.value.status == 404 and hidden.value.code == "not_found"
    with Client(base_url, service_token) as jobs:
        assert jobs.cancel(job.id)["state"] == "cancelled"
        with pytest.raises(TimeoutError):
            jobs.wait(jobs.submit("diagnostic.noop", delay_seconds=600).id, timeout=1)


def test_the_async_client_submits_follows_and_waits(base_url, service_token, paused_diagnostics):
    async def scenario():
        async with AsyncClient(base_url, service_token) as jobs:
            job = await jobs.submit(JobRequest(type="diagnostic.noop"))
            events = jobs.events(job.id)
            status = await events.__anext__()
            assert status.kind == "status" and status.data["state"] == "ready"
            paused_diagnostics()
            assert [event.kind async for event in events] == ["started", "completed"]
            assert (await jobs.wait(job.id, timeout=30)).state == "completed"
            assert (await jobs.stream_token()).startswith("service_role.")

    asyncio.run(scenario())
