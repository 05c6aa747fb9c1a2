#!/usr/bin/env bash
# The demo: start a lab of EKS clusters, run the collection's cluster_info playbook over its
# inventory (every cluster read through the EKS token path), stop the lab.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
state=${EKSOPS_DEMO_STATE:-$root/.lab/demo}
scenario=${EKSOPS_DEMO_SCENARIO:-$root/tests/lab/scenarios/demo.yml}
labctl="$root/tests/lab/labctl"

"$labctl" stop --state "$state" >/dev/null 2>&1 || true
trap '"$labctl" stop --state "$state"' EXIT
"$labctl" start --scenario "$scenario" --state "$state"
# shellcheck disable=SC1091
source "$state/env.sh"
echo "== ansible-playbook eksops.windows.cluster_info over $state/inventory.yml"
"$root/.venv/bin/ansible-playbook" -i "$state/inventory.yml" eksops.windows.cluster_info
