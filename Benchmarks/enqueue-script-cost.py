#!/usr/bin/env python3
"""Redis CPU per job of the enqueue script, and of variants of it with one part left out.

Starts a private redis-server, loads the enqueue script as the queue builds it (the Lua prelude and the
script's body, read from Sources/PhoenixQueue/Scripts), and sends CALLS calls of 100 plain jobs each
(fresh ids, a 170-byte envelope, the keys and arguments `JobQueue.enqueue` sends) pipelined on one
connection; Redis's CPU time (`INFO cpu`, user + system) over the run, divided by the jobs, is the figure.
Each variant is the same script with one part removed or changed, to show what that part costs; they are
experiments, not code the queue runs, and one whose text no longer matches the script is refused.

Usage: Benchmarks/enqueue-script-cost.py [CALLS=300] [ROUNDS=3]
       Benchmarks/enqueue-script-cost.py --check   (only that every variant still applies to the script)
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def swift_string(path, opening):
    """The text of the Swift multi-line string literal that follows `opening` in the file at `path`."""
    source = open(os.path.join(ROOT, path)).read()
    literal = source.split(opening, 1)[1].split("\n    \"\"\"", 1)[0]
    lines = [line[4:] if line.startswith("    ") else line for line in literal.split("\n")]
    return "\n".join(lines).replace("\\\\", "\\")


PRELUDE = swift_string("Sources/PhoenixQueue/Scripts/LuaPrelude.swift", 'static let source = """\n')
BODY = swift_string("Sources/PhoenixQueue/Scripts/EnqueueScript.swift", '"""\n')


def variant(name, replacements):
    body = BODY
    for old, new in replacements:
        if old not in body:
            sys.exit(f"variant '{name}': the script no longer contains {old!r}")
        body = body.replace(old, new)
    return name, body


CALL_SETUP = "local out, ready, created, back, fair = {}, false, 0, {}, flow().fair"
EXISTS = "elseif redis.call('EXISTS', key) == 1 then"
HSET = "redis.call('HSET', key, 'envelope', envelope, 'type', jobType, 'maxAttempts', maxAttempts, 'state', state, since, at)"
VARIANTS = [
    ("the script as the queue runs it", BODY),
    variant("without the EXISTS per job", [(EXISTS, "elseif false then")]),
    variant("without the queued event", [("emit_together(id, 'queued', fairKey, 'type', jobType)", "")]),
    variant("without the job's hash", [(HSET, "")]),
    # Layout 3, as the next step would have it: a plain job's envelope (with its type and maxAttempts) is a
    # field of one hash per queue, written by one HSET per call; a job is new when neither that field nor a
    # job hash exists (one EXISTS over the call's job keys, one HMGET of the envelopes). The fetch would then
    # write the job's hash: that cost is not in this figure.
    variant("envelopes in one hash per queue (layout 3, enqueue side only)", [
        (CALL_SETUP, CALL_SETUP + """
    local job_keys, ids, envelopes = {}, {}, {}
    for _, group in ipairs(groups) do
      for j = group.first, group.first + 2 * group.count - 1, 2 do job_keys[#job_keys + 1] = job_key(ARGV[j]); ids[#ids + 1] = ARGV[j] end
    end
    local none = redis.call('EXISTS', unpack(job_keys)) == 0
    local had = redis.call('HMGET', queue_key('envelopes'), unpack(ids))"""),
        (EXISTS, "elseif not none and redis.call('EXISTS', key) == 1 then"),
        (HSET, "envelopes[#envelopes + 1] = id; envelopes[#envelopes + 1] = jobType .. '|' .. maxAttempts .. '|' .. envelope"),
        ("if #back > 0 then", "if #envelopes > 0 then redis.call('HSET', queue_key('envelopes'), unpack(envelopes)) end\n    if #back > 0 then"),
    ]),
]


def resp(args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def command(sock, *args):
    sock.sendall(resp(args))
    return sock.recv(1 << 20)


def redis_cpu(sock):
    info = command(sock, "INFO", "cpu").decode()
    fields = dict(line.split(":", 1) for line in info.split("\r\n") if ":" in line)
    return float(fields["used_cpu_user"]) + float(fields["used_cpu_sys"])


def run(port, body, calls):
    """Redis CPU seconds per job for `calls` calls of 100 plain jobs of the script `body`."""
    sock = socket.create_connection(("127.0.0.1", port))
    command(sock, "FLUSHALL")
    sha = command(sock, "SCRIPT", "LOAD", "#!lua\n" + PRELUDE + body).split(b"\r\n")[1].decode()
    base = "phx:queue:{diagnostics}"
    queue_keys = [f"{base}:{name}" for name in
                  ["ready", "delayed", "leased", "dead", "paused", "signal", "counters", "flow", "turns", "parked", "running", "weights", "served"]]
    envelope = ('{"attempt":0,"enqueuedAt":"2026-12-05T10:00:00.000Z","id":"%s","maxAttempts":3,"payload":{},'
                '"priority":0,"queue":"diagnostics","type":"diagnostics.noop"}')
    requests = []
    for _ in range(calls):
        ids = [str(uuid.uuid4()) for _ in range(100)]
        # One group of 100 plain jobs of one type: its header, then each job's id and envelope.
        arguments = [base, "diagnostics", 604800, len(ids), "diagnostics.noop", 3, ""]
        for job in ids:
            arguments += [job, envelope % job]
        keys = queue_keys + [f"{base}:job:{job}" for job in ids]
        requests.append(resp(["EVALSHA", sha, len(keys)] + keys + arguments))
    before = redis_cpu(sock)
    sock.sendall(b"".join(requests))
    received = b""
    while received.count(b"*100\r\n") < calls:
        chunk = sock.recv(1 << 20)
        if not chunk or chunk.startswith(b"-"):
            sys.exit(f"the script failed: {chunk[:300]!r}")
        received += chunk
    spent = redis_cpu(sock) - before
    sock.close()
    return spent / (calls * 100)


def main():
    if sys.argv[1:] == ["--check"]:
        return  # The variants were built on import, and a stale one has exited with its name.
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tempfile.mkdtemp(prefix="phoenix-enqueue-cost.")
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                               "--dir", directory], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        figures = {name: [] for name, _ in VARIANTS}
        for _ in range(rounds):
            for name, body in VARIANTS:
                figures[name].append(run(port, body, calls) * 1e6)
        print(f"Redis CPU per enqueued job, {calls} calls of 100 plain jobs, {rounds} rounds (median, then each round):")
        for name, values in figures.items():
            print(f"  {statistics.median(values):5.2f} µs  ({' '.join(f'{v:.2f}' for v in values)})  {name}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
