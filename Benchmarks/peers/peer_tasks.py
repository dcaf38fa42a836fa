"""The no-op job of the peer comparison, for each Python job queue (Benchmarks/peers.sh).

Each job does nothing but count itself done (one INCR on the benchmark's Redis), which is how the driver
(run.py) knows when every job has been processed; Phoenix Jobs counts completions in its own ack script.
"""
import os

import redis

REDIS_URL = os.environ["PEER_REDIS_URL"]
DONE_KEY = "peerbench:done"
_counter = redis.Redis.from_url(REDIS_URL)


def rq_noop():
    _counter.incr(DONE_KEY)


# Celery: a Redis broker, no result backend (as a no-op job needs none).
if os.environ.get("PEER") == "celery":
    from celery import Celery

    celery_app = Celery("peer_tasks", broker=REDIS_URL)
    celery_app.conf.update(task_ignore_result=True, worker_prefetch_multiplier=int(os.environ.get("PEER_PREFETCH", "4")),
                           worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)

    @celery_app.task(name="noop")
    def celery_noop():
        _counter.incr(DONE_KEY)

# Dramatiq: its Redis broker.
if os.environ.get("PEER") == "dramatiq":
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    dramatiq.set_broker(RedisBroker(url=REDIS_URL))

    @dramatiq.actor(max_retries=0)
    def dramatiq_noop():
        _counter.incr(DONE_KEY)

# arq: asyncio workers.
if os.environ.get("PEER") == "arq":
    from arq.connections import RedisSettings

    async def arq_noop(ctx):
        await ctx["redis"].incr(DONE_KEY)

    class WorkerSettings:
        functions = [arq_noop]
        redis_settings = RedisSettings.from_dsn(REDIS_URL)
        max_jobs = int(os.environ.get("PEER_CONCURRENCY", "50"))
        keep_result = 0
        burst = False
