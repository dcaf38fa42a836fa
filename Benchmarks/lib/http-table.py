"""Prints the table of Benchmarks/lib/http-bench.sh's wrk runs.

Arguments: the run directory, clock ticks per second, then NAME=ROUTE for each run (NAME.txt holds wrk's
output, NAME.cpu the server's and Redis's CPU ticks during it); the first run is the reference rate.
"""
import re
import sys

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def figures(directory, ticks_per_second, name):
    text = open(f"{directory}/{name}.txt").read()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    server, redis = (int(ticks) * 1e6 / ticks_per_second / requests for ticks in open(f"{directory}/{name}.cpu").read().split())
    return rate, float(value) * UNITS[unit], server, redis


def main():
    directory, ticks_per_second = sys.argv[1], int(sys.argv[2])
    runs = [argument.split("=", 1) for argument in sys.argv[3:]]
    reference = figures(directory, ticks_per_second, runs[0][0])[0]
    print(f"{'route':<24}{'requests/s':>12}{'p99':>12}{'of ' + runs[0][1]:>18}{'server CPU':>14}{'Redis CPU':>14}")
    for name, route in runs:
        rate, p99, server, redis = figures(directory, ticks_per_second, name)
        print(f"{route:<24}{rate:>12,.0f}{p99:>10.2f} ms{rate / reference:>17.0%}{server:>9.0f} us/req{redis:>9.0f} us/req")


main()
