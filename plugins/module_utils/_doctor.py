# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Windows node doctor: node identity (_node_identity.py), why Windows pods have no IP
(_pod_network.py) and Windows AMI drift and expiry (_windows_ami.py), over one ClusterReads, with
the findings and the one-line summary the fleet report shows. Module eks_windows_doctor runs it
(and the identity fix); eks_windows_info runs it with option doctor.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.eksops.windows.plugins.module_utils import (
    _node_identity as node_identity,
    _pod_network as pod_network,
    _procedure as procedure,
    _windows_ami as windows_ami,
)

CHECKS = ("identity", "pods", "ami")
POD_SCOPES = ("not_running", "all")


def parse_role_allow_list(patterns):
    """The rules of identity_fix_allowed (raises node_identity.AllowListError, an InputError)."""
    return node_identity.parse_allow_list(patterns)


def examine(reads, checks=CHECKS, pods_scope="not_running", ami_warning_days=procedure.AMI_WARNING_DAYS,
            now=None):
    """What the doctor finds on one cluster (see module eks_windows_doctor's RETURN)."""
    today = now.date() if hasattr(now, "date") else now
    result = {"identity": None, "pods": None, "ami": None, "checks": [c for c in CHECKS if c in checks]}
    if "identity" in checks:
        result["identity"] = reads.node_identity()
    if "pods" in checks:
        result["pods"] = pod_network.diagnose(reads, pods_scope)
    if "ami" in checks:
        result["ami"] = windows_ami.drift(reads, ami_warning_days, today)
    return summarize(result, reads.incomplete)


def summarize(result, incomplete=()):
    """The result with `findings`, `summary` and `incomplete` (again, after a fix)."""
    from ansible_collections.eksops.windows.plugins.module_utils._assessment import finding  # pylint: disable=import-outside-toplevel

    found = []
    identity, pods, ami = result.get("identity"), result.get("pods"), result.get("ami")
    if identity is not None:
        found += node_identity.findings(identity, finding)
    if pods is not None:
        one = pod_network.finding_of(pods, finding)
        found += [one] if one else []
    if ami is not None:
        found += windows_ami.findings_of(ami, finding)
    causes = {}
    for pod in pods or []:
        if pod["cause"] != "none":
            causes[pod["cause"]] = causes.get(pod["cause"], 0) + 1
    days = [r["days_left"] for r in ami or [] if r["days_left"] is not None]
    gaps = [r for r in (identity or {}).get("roles", []) if r["problems"] and r["fix"]["action"] != "fixed"]
    result = dict(result)
    result["findings"] = found
    result["incomplete"] = list(incomplete)
    result["summary"] = {
        "checks": list(result.get("checks") or []),
        "identity_gaps": None if identity is None else len(gaps) + len(identity["unresolved"]),
        "identity_fixable": None if identity is None else sum(1 for r in gaps if r["fix"]["kind"]),
        "authentication_mode": None if identity is None else identity["authentication_mode"],
        "pods_without_ip": None if pods is None else sum(causes.values()),
        "pod_causes": causes,
        "ami_min_days_left": min(days) if days else None,
        "ami_expired": sum(1 for r in ami or [] if r["status"] in ("expired", "not_visible")),
        "ami_expiring": sum(1 for r in ami or [] if r["status"] == "expiring"),
        "ami_outdated": sum(1 for r in ami or [] if r["status"] == "outdated"),
    }
    return result


def fix_identity(clients, check_mode, identity, allow_rules):
    """(changed, identity, diffs): node_identity.fix."""
    return node_identity.fix(clients, check_mode, identity, allow_rules)
