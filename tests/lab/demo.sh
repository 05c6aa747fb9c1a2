#!/usr/bin/env bash
# The demo: the everyday flow against a lab of EKS clusters.
#   1. inventory: the eksops.windows.eks_clusters plugin lists the lab's clusters from (moto's) EKS
#   2. cluster_info: every cluster read through the EKS token path
#   3. fleet_report: every cluster assessed; fleet-report.json and fleet-report.html written
#   4. enable: on the clusters the report lets through, check mode with diff first, then for real
# Then the lab stops; the report stays in $EKSOPS_DEMO_REPORT (default .lab/fleet-report).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
state=${EKSOPS_DEMO_STATE:-$root/.lab/demo}
scenario=${EKSOPS_DEMO_SCENARIO:-$root/tests/lab/scenarios/demo.yml}
report=${EKSOPS_DEMO_REPORT:-$root/.lab/fleet-report}
labctl="$root/tests/lab/labctl"
bin="$root/.venv/bin"

"$labctl" stop --state "$state" >/dev/null 2>&1 || true
trap '"$labctl" stop --state "$state"' EXIT
"$labctl" start --scenario "$scenario" --state "$state"
# shellcheck disable=SC1091
source "$state/env.sh"
inventory="$state/eks_clusters.yml"

echo "== 1. inventory: ansible-inventory -i $inventory --graph"
"$bin/ansible-inventory" -i "$inventory" --graph

echo "== 2. ansible-playbook eksops.windows.cluster_info"
"$bin/ansible-playbook" -i "$inventory" eksops.windows.cluster_info

echo "== 3. ansible-playbook eksops.windows.fleet_report -e fleet_report_dir=$report"
"$bin/ansible-playbook" -i "$inventory" eksops.windows.fleet_report -e "fleet_report_dir=$report"

ready=$("$bin/python" - "$report/fleet-report.json" <<'PY'
import json, sys
clusters = json.load(open(sys.argv[1], encoding="utf-8"))["clusters"]
print(",".join(sorted(c["host"] for c in clusters if c["preflight"]["control_plane"]["allowed"])))
PY
)
echo "== 4. ansible-playbook eksops.windows.enable on the clusters the report lets through: ${ready:-none}"
if [ -n "$ready" ]; then
  "$bin/ansible-playbook" -i "$inventory" eksops.windows.enable -l "$ready" --check --diff
  "$bin/ansible-playbook" -i "$inventory" eksops.windows.enable -l "$ready"
fi
echo "== the fleet report: file://$report/fleet-report.html (and fleet-report.json)"
