# Shared by Benchmarks/peers.sh and Benchmarks/bench-cost.sh: the ceiling of a queue that spends one push and
# one pop per job, from redis-benchmark's unpipelined LPUSH and RPOP rates with 50 clients.

# push_pop_ceiling PORT: one line of JSON, {"peer": "redis-benchmark", "lpush": …, "rpop": …, "ceiling": …}
# (per second; ceiling = the mean of the two rates divided by two, jobs per second).
push_pop_ceiling() {
  redis-benchmark -p "$1" -c 50 -n 200000 -t lpush,rpop -q | tr '\r' '\n' | python3 -c '
import json, re, sys
rates = {m.group(1).lower(): float(m.group(2)) for m in re.finditer(r"(LPUSH|RPOP): ([0-9.]+) requests per second", sys.stdin.read())}
print(json.dumps({"peer": "redis-benchmark", **rates, "ceiling": round((rates["lpush"] + rates["rpop"]) / 4)}))'
}
