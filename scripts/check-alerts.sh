#!/usr/bin/env bash
# Checks the Prometheus alert rules with promtool: syntax (check rules) and behaviour on made-up series
# (test rules, Deploy/prometheus/alerts.test.yml). Installs Debian's prometheus package (for promtool) when
# missing; not part of `make test` because of its size. That every metric the rules use is exported is
# checked by `make test` (DeployMetricsTests).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

ensure_packages prometheus
promtool check rules Deploy/prometheus/alerts.yml
promtool test rules Deploy/prometheus/alerts.test.yml
