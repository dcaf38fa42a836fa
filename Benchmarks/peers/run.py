"""Runs the no-op workload of Benchmarks/peers.sh with one Python job queue and prints one JSON line.

    PEER_REDIS_URL=redis://127.0.0.1:PORT/1 python run.py rq|celery|dramatiq|arq JOBS WORKERS CONCURRENCY

Enqueues JOBS no-op jobs (in bulk where the library has a bulk call), starts the workers, and times from
the first job done to the last (so worker start-up is not counted), then reads each worker process's peak
RSS (VmHWM) before stopping them.
"""
import asyncio
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time

import redis

peer, jobs, workers, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
url = os.environ["PEER_REDIS_URL"]
os.environ["PEER"] = peer
os.environ["PEER_CONCURRENCY"] = str(concurrency)
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import peer_tasks  # noqa: E402  (reads PEER)

r = redis.Redis.from_url(url)
r.flushdb()


def enqueue():
    if peer == "rq":
        from rq import Queue
        q = Queue("bench", connection=redis.Redis.from_url(url))
        for start in range(0, jobs, 1000):
            q.enqueue_many([Queue.prepare_data(peer_tasks.rq_noop) for _ in range(min(1000, jobs - start))])
    elif peer == "celery":
        with peer_tasks.celery_app.producer_or_acquire() as producer:
            for _ in range(jobs):
                peer_tasks.celery_noop.apply_async(producer=producer)
    elif peer == "dramatiq":
        for _ in range(jobs):
            peer_tasks.dramatiq_noop.send()
    elif peer == "arq":
        from arq import create_pool

        async def main():
            pool = await create_pool(peer_tasks.WorkerSettings.redis_settings)
            for start in range(0, jobs, 1000):
                await asyncio.gather(*(pool.enqueue_job("arq_noop") for _ in range(min(1000, jobs - start))))
            await pool.aclose()
        asyncio.run(main())


def worker_commands():
    bin_dir = os.path.dirname(sys.executable)
    if peer == "rq":
        return [[f"{bin_dir}/rq", "worker", "-w", "rq.worker.SimpleWorker", "--url", url, "-q", "bench"]] * workers
    if peer == "celery":
        return [[f"{bin_dir}/celery", "-A", "peer_tasks", "worker", "--pool", "prefork", "--concurrency", str(workers),
                 "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"]]
    if peer == "dramatiq":
        return [[f"{bin_dir}/dramatiq", "peer_tasks", "--processes", str(workers), "--threads", str(concurrency)]]
    if peer == "arq":
        return [[f"{bin_dir}/arq", "peer_tasks.WorkerSettings"]] * workers


def tree(pid):
    """pid and its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def peak_rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None


started = time.perf_counter()
enqueue()
enqueue_rate = jobs / (time.perf_counter() - started)

env = dict(os.environ, PYTHONPATH=here)
processes = [subprocess.Popen(command, cwd=here, env=env, stdout=subprocess.DEVNULL, stderr=open(f"/tmp/peer-{peer}.log", "a"))
             for command in worker_commands()]
first = None
deadline = time.time() + 1800
while True:
    done = int(r.get(peer_tasks.DONE_KEY) or 0)
    if done and first is None:
        first = time.perf_counter()
    if done >= jobs or time.time() > deadline:
        break
    time.sleep(0.001)
elapsed = time.perf_counter() - first
rss = [m for p in processes for m in (peak_rss_mb(q) for q in tree(p.pid)) if m]
for p in processes:
    for q in reversed(tree(p.pid)):
        try:
            os.kill(q, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait()
version = importlib.metadata.version(peer)
print(json.dumps({"peer": peer, "version": version, "jobs": jobs, "done": done, "enqueue_rate": round(enqueue_rate),
                  "processing_rate": round(done / elapsed), "peak_rss_mb": round(max(rss), 1) if rss else None,
                  "processes": len(rss), "workers": [" ".join(c[-6:]) for c in worker_commands()][:1]}))
