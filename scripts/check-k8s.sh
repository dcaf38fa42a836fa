#!/usr/bin/env bash
# Checks Deploy/k8s against the schemas of the API versions its manifests name (scripts/check-k8s.py):
# Kubernetes kinds with kubernetes-validate (from PyPI, in a virtual environment of its own), KEDA kinds with
# the schema in scripts/schemas. Run by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${PHOENIX_TOOLS_VENV:-/tmp/phoenix-tools-venv}
if ! "$venv/bin/python" -c 'import kubernetes_validate' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q kubernetes-validate==1.37.0
fi
"$venv/bin/python" scripts/check-k8s.py
