#!/usr/bin/env bash
# Checks the monitoring files with the tools that read them: promtool (the alert rules, their unit tests in
# Deploy/prometheus/alerts.test.yml, the example prometheus.yml) and amtool (the example alertmanager.yml,
# and that critical alerts reach Slack and email while warnings reach Slack). Installs Debian's prometheus
# and prometheus-alertmanager packages when missing (without starting their services). Run by `make test`.
# That every metric the rules use is exported is checked by DeployMetricsTests.
set -euo pipefail
cd "$(dirname "$0")/../Deploy/prometheus"
. ../../scripts/lib/services.sh

ensure_packages prometheus prometheus-alertmanager
promtool check rules alerts.yml
promtool test rules alerts.test.yml
promtool check config prometheus.yml
amtool check-config alertmanager.yml
route() { amtool config routes test --config.file=alertmanager.yml "$@" 2>/dev/null; }
[ "$(route severity=critical alertname=PhoenixWorkerMissing)" = "slack-and-email" ] || { echo "FAILED: critical alerts do not reach slack-and-email" >&2; exit 1; }
[ "$(route severity=warning alertname=PhoenixQueueBacklog)" = "slack" ] || { echo "FAILED: warnings do not reach slack" >&2; exit 1; }
echo "check-alerts: rules, their tests, prometheus.yml and alertmanager.yml are valid; critical → slack-and-email, warning → slack"
