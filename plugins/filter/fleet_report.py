# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: per-cluster records from eks_windows_info results, the report document,
the rows of the HTML page, and the summaries for the play output and set_stats.

Everything the role `fleet_report` decides lives here, so the templates only print.
Values are never escaped here: the HTML template escapes every value it prints.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import hashlib
import json
import os
import re

from ansible.errors import AnsibleFilterError

COLLECTION = "eksops.windows"
SEVERITIES = ("error", "warning", "info")
SEVERITY_COUNT_KEYS = {"error": "errors", "warning": "warnings", "info": "info"}
NO_ASSESSMENT = ("no assessment result: the host failed before its assessment ran (for example "
                 "eks_cluster_name or aws_region is not defined for it); see the play output")
# The sort key of an AMI column whose images cannot be described (no days left known): before
# every number of days, as the worst case.
AMI_NOT_VISIBLE_SORT = -100000
# The keys of an eks_windows_info result that a cluster record carries, as they are.
ASSESSMENT_KEYS = ("mode", "mode_reason", "state", "prerequisites", "findings", "finding_counts",
                   "preflight", "node_counts")


def collection_version():
    """The collection's version: MANIFEST.json of an installed collection, galaxy.yml of a
    checkout; None when neither can be read."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        with open(os.path.join(root, "MANIFEST.json"), encoding="utf-8") as handle:
            return json.load(handle)["collection_info"]["version"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(os.path.join(root, "galaxy.yml"), encoding="utf-8") as handle:
            match = re.search(r"^version:\s*['\"]?([^'\"\s#]+)", handle.read(), re.MULTILINE)
        return match.group(1) if match else None
    except OSError:
        return None


def count_findings(findings):
    counts = dict((severity, 0) for severity in SEVERITIES)
    for finding in findings or []:
        severity = (finding or {}).get("severity")
        counts[severity] = counts.get(severity, 0) + 1
    return counts


def fleet_report_entry(result, host, cluster_name=None, region=None):
    """The record of one cluster from its registered eks_windows_info result.

    A result that failed, was unreachable or skipped gives a record with status `failed` and the
    result's message; otherwise status `assessed` with the assessment's keys (missing keys are
    None, so a module without the assessment still gives a record)."""
    if not isinstance(result, dict):
        raise AnsibleFilterError("fleet_report_entry expects a registered eks_windows_info result "
                                 "(a dict), got %s" % type(result).__name__)
    cluster = result.get("cluster") or {}
    record = {
        "host": host,
        "name": cluster.get("name") or cluster_name or host,
        "region": cluster.get("region") or region,
    }
    if result.get("failed") or result.get("unreachable") or result.get("skipped"):
        if result.get("unreachable"):
            what = "unreachable"
        elif result.get("skipped"):
            what = "skipped"
        else:
            what = "failed"
        message = result.get("msg") or "the assessment %s without a message" % what
        record.update(status="failed", error="%s" % message)
        return record
    record.update(status="assessed", version=cluster.get("version"),
                  platform_version=cluster.get("platform_version"))
    for key in ASSESSMENT_KEYS:
        record[key] = result.get(key)
    if record["findings"] is None:
        record["findings"] = []
    if not record["finding_counts"]:
        record["finding_counts"] = count_findings(record["findings"])
    record["doctor"] = doctor_summary_of(result)
    return record


def doctor_summary_of(result):
    """The summary of the doctor's checks in an eks_windows_info result (option doctor); None
    when the result has none."""
    doctor = result.get("doctor")
    if not isinstance(doctor, dict) or not isinstance(doctor.get("summary"), dict):
        return None
    summary = dict(doctor["summary"])
    summary["incomplete"] = list(doctor.get("incomplete") or [])
    return summary


def doctor_checked(record, check):
    """The record's doctor summary when it ran `check` (identity, pods, ami), else None."""
    doctor = record.get("doctor")
    if not isinstance(doctor, dict):
        return None
    checks = doctor.get("checks")
    return doctor if checks is None or check in checks else None


def ami_expired(doctor):
    """Whether a doctor summary has an AMI made private (days left below 0) or one that can no
    longer be described (the doctor's ami_expired counts both)."""
    if doctor is None:
        return False
    days = doctor.get("ami_min_days_left")
    return bool((days is not None and days < 0) or doctor.get("ami_expired"))


def identity_words(doctor):
    if doctor is None:
        return "not checked"
    gaps = int(doctor.get("identity_gaps") or 0)
    return "ok" if not gaps else "%d gap%s" % (gaps, "" if gaps == 1 else "s")


def pod_causes_words(doctor):
    causes = (doctor or {}).get("pod_causes") or {}
    return ", ".join("%s: %d" % (cause, number)
                     for cause, number in sorted(causes.items(), key=lambda i: (-int(i[1] or 0), i[0])))


def ami_words(doctor):
    if doctor is None:
        return "not checked"
    days = doctor.get("ami_min_days_left")
    if days is None:
        words = "not visible" if ami_expired(doctor) else "unknown"
    elif days < 0:
        words = "expired %d day(s) ago" % abs(days)
    else:
        words = "%d day(s) left" % days
    expired = int(doctor.get("ami_expired") or 0)
    if expired:
        words += " (%d expired)" % expired
    return words


def certificate_of(record):
    state = record.get("state") or {}
    certificate = state.get("webhook_certificate")
    return certificate if isinstance(certificate, dict) else None


def fleet_report_summary(record):
    """A short summary of one record, for set_stats, with `text`: the line the play prints."""
    name, region = record.get("name"), record.get("region")
    if record.get("status") == "failed":
        return {"cluster": name, "region": region, "status": "failed", "error": record.get("error"),
                "text": "%s (%s): assessment FAILED: %s" % (name, region, record.get("error"))}
    counts = record.get("finding_counts") or {}
    state = record.get("state") or {}
    certificate = certificate_of(record)
    summary = {
        "cluster": name, "region": region, "status": "assessed", "mode": record.get("mode"),
        "windows_support": state.get("windows_support"),
        "errors": int(counts.get("error") or 0), "warnings": int(counts.get("warning") or 0),
        "info": int(counts.get("info") or 0),
        "certificate_days_left": certificate.get("days_left") if certificate else None,
    }
    identity, pods, ami = (doctor_checked(record, c) for c in ("identity", "pods", "ami"))
    summary.update(
        identity_gaps=int(identity.get("identity_gaps") or 0) if identity else None,
        pods_without_ip=int(pods.get("pods_without_ip") or 0) if pods else None,
        ami_min_days_left=ami.get("ami_min_days_left") if ami else None,
        ami_expired=int(ami.get("ami_expired") or 0) if ami else None)
    text = ("%s (%s, %s/%s): mode %s, windows_support %s, findings: %d error(s), %d warning(s), "
            "%d info" % (name, region, record.get("version"), record.get("platform_version"),
                         summary["mode"], summary["windows_support"], summary["errors"],
                         summary["warnings"], summary["info"]))
    if certificate:
        text += ", webhook certificate %s" % certificate_words(certificate)
    doctor = []
    if identity:
        doctor.append("node identity %s" % identity_words(identity))
    if pods:
        doctor.append("%d Windows pod(s) without an IP%s" % (
            summary["pods_without_ip"], " (%s)" % pod_causes_words(pods) if summary["pods_without_ip"] else ""))
    if ami:
        doctor.append("AMI %s" % ami_words(ami))
    if doctor:
        text += ", doctor: %s" % ", ".join(doctor)
    summary["text"] = text
    return summary


def certificate_words(certificate):
    days = certificate.get("days_left")
    if days is None:
        return "not after %s" % certificate.get("not_after")
    if certificate.get("expired") or days < 0:
        return "expired %d day(s) ago (not after %s)" % (abs(days), certificate.get("not_after"))
    return "%d day(s) left (not after %s)" % (days, certificate.get("not_after"))


def fleet_report(records, hosts=None, generated_at=None):
    """The report document from the records of the hosts that got one.

    `hosts` lists every host of the play: a host without a record failed before its assessment
    and is reported as failed, so no cluster silently vanishes."""
    if not isinstance(records, (list, tuple)):
        raise AnsibleFilterError("fleet_report expects a list of fleet_report_entry records, got %s"
                                 % type(records).__name__)
    records = [dict(r) for r in records]
    seen = set(r.get("host") for r in records)
    for host in hosts or []:
        if host not in seen:
            records.append({"host": host, "name": host, "region": None, "status": "failed",
                            "error": NO_ASSESSMENT})
            seen.add(host)
    records.sort(key=lambda r: ("%s" % r.get("name"), "%s" % r.get("host")))
    assessed = [r for r in records if r.get("status") == "assessed"]
    failed = [r for r in records if r.get("status") != "assessed"]
    if generated_at is None:
        generated_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "generated_at": generated_at,
        "collection": {"name": COLLECTION, "version": collection_version()},
        "totals": totals(assessed, failed),
        "clusters": assessed,
        "failed": failed,
    }


def totals(assessed, failed):
    modes, support = {}, {}
    findings = dict((severity, 0) for severity in SEVERITIES)
    by_id = {}
    with_errors = expired = 0
    doctor_count = identity_gaps = pods_without_ip = amis_expired = 0
    for record in assessed:
        mode = record.get("mode") or "unknown"
        modes[mode] = modes.get(mode, 0) + 1
        windows_support = (record.get("state") or {}).get("windows_support") or "unknown"
        support[windows_support] = support.get(windows_support, 0) + 1
        counts = record.get("finding_counts") or {}
        for severity, number in counts.items():
            findings[severity] = findings.get(severity, 0) + int(number or 0)
        if counts.get("error"):
            with_errors += 1
        for finding in record.get("findings") or []:
            names = by_id.setdefault(finding.get("id"), [])
            if record["name"] not in names:
                names.append(record["name"])
        certificate = certificate_of(record)
        if certificate and (certificate.get("expired") or (certificate.get("days_left") or 0) < 0):
            expired += 1
        if record.get("doctor"):
            doctor_count += 1
        identity, pods, ami = (doctor_checked(record, c) for c in ("identity", "pods", "ami"))
        identity_gaps += int((identity or {}).get("identity_gaps") or 0)
        pods_without_ip += int((pods or {}).get("pods_without_ip") or 0)
        amis_expired += int((ami or {}).get("ami_expired") or 0)
    return {
        "clusters": len(assessed) + len(failed),
        "assessed": len(assessed),
        "failed": len(failed),
        "modes": modes,
        "windows_support": support,
        "findings": findings,
        "clusters_with_errors": with_errors,
        "certificates_expired": expired,
        "findings_by_id": by_id,
        "doctor": doctor_count,
        "identity_gaps": identity_gaps,
        "pods_without_ip": pods_without_ip,
        "ami_expired": amis_expired,
    }


def version_key(version, platform_version):
    """A text key that sorts Kubernetes and platform versions as numbers (1.9 < 1.21,
    eks.9 < eks.10); empty when the version is unknown."""
    numbers = [int(n) for n in re.findall(r"\d+", "%s" % (version or ""))][:2]
    if not numbers:
        return ""
    numbers += [0] * (2 - len(numbers))
    platform = re.findall(r"\d+", "%s" % (platform_version or ""))
    return "%04d.%04d.%06d" % (numbers[0], numbers[1], int(platform[0]) if platform else 0)


def state_lines(state):
    """The facts of the state column, in words."""
    lines = []
    attached, needed = state.get("policy_attached"), state.get("policy_needed")
    if attached is None:
        lines.append("policy: unknown")
    else:
        words = "attached" if attached else "not attached"
        lines.append("policy: %s%s" % (words, " (not needed)" if needed is False else ""))
    ipam = state.get("enable_windows_ipam")
    lines.append("IPAM: not set" if ipam is None else 'IPAM: "%s"' % ipam)
    legacy = state.get("legacy") or {}
    if legacy.get("present"):
        lines.append("legacy: %s" % (", ".join(legacy.get("flavours") or []) or "present"))
    return lines


def fleet_report_rows(report):
    """One row per cluster (assessed and failed, in name order) for the HTML page. `sort` holds
    the text each sortable column sorts by (empty: no value, sorted last)."""
    if not isinstance(report, dict) or "clusters" not in report:
        raise AnsibleFilterError("fleet_report_rows expects the document of the fleet_report filter")
    rows = []
    for record in sorted(list(report.get("clusters") or []) + list(report.get("failed") or []),
                         key=lambda r: ("%s" % r.get("name"), "%s" % r.get("host"))):
        failed = record.get("status") != "assessed"
        state = record.get("state") or {}
        counts = record.get("finding_counts") or {}
        certificate = certificate_of(record)
        version = record.get("version")
        row = {
            "name": "%s" % (record.get("name") or ""),
            "host": "%s" % (record.get("host") or ""),
            "region": "%s" % (record.get("region") or ""),
            "status": "failed" if failed else "assessed",
            "error": "%s" % (record.get("error") or ""),
            "version": ("%s / %s" % (version, record.get("platform_version"))) if version else "",
            "mode": "assessment failed" if failed else (record.get("mode") or "unknown"),
            "mode_reason": record.get("mode_reason") or "",
            "windows_support": "" if failed else (state.get("windows_support") or "unknown"),
            "state_lines": [] if failed else state_lines(state),
            "findings": [] if failed else list(record.get("findings") or []),
            "certificate": "" if not certificate else certificate_words(certificate),
            "certificate_expired": bool(certificate and (
                certificate.get("expired") or (certificate.get("days_left") or 0) < 0)),
        }
        identity, pods, ami = ((None if failed else doctor_checked(record, c))
                               for c in ("identity", "pods", "ami"))
        ami_days = ami.get("ami_min_days_left") if ami else None
        row.update(
            identity="" if failed else identity_words(identity),
            identity_gaps=int(identity.get("identity_gaps") or 0) if identity else None,
            pods_without_ip=int(pods.get("pods_without_ip") or 0) if pods else None,
            pods="" if failed else ("not checked" if pods is None else "%d" % int(pods.get("pods_without_ip") or 0)),
            pod_causes=pod_causes_words(pods),
            ami="" if failed else ami_words(ami),
            ami_days_left=ami_days,
            ami_expired=ami_expired(ami),
        )
        for severity in SEVERITIES:
            row[SEVERITY_COUNT_KEYS[severity]] = None if failed else int(counts.get(severity) or 0)
        row["sort"] = {
            "cluster": row["name"],
            "region": row["region"],
            "version": version_key(version, record.get("platform_version")),
            "mode": row["mode"],
            "state": row["windows_support"],
            "errors": "" if failed else "%d" % row["errors"],
            "warnings": "" if failed else "%d" % row["warnings"],
            "info": "" if failed else "%d" % row["info"],
            "certificate": "%d" % certificate["days_left"]
            if certificate and certificate.get("days_left") is not None else "",
            "identity": "" if row["identity_gaps"] is None else "%d" % row["identity_gaps"],
            "pods": "" if row["pods_without_ip"] is None else "%d" % row["pods_without_ip"],
            # an image that can no longer be described has no days left: it sorts first
            "ami": "%d" % ami_days if ami_days is not None else (
                "%d" % AMI_NOT_VISIBLE_SORT if row["ami_expired"] else ""),
        }
        rows.append(row)
    return rows


def csp_hash(text):
    """The Content-Security-Policy source (`'sha256-...'`) that allows exactly this inline
    script or style."""
    digest = hashlib.sha256(("%s" % text).encode("utf-8")).digest()
    return "'sha256-%s'" % base64.b64encode(digest).decode("ascii")


class FilterModule(object):
    def filters(self):
        return {
            "fleet_report_entry": fleet_report_entry,
            "fleet_report_summary": fleet_report_summary,
            "fleet_report": fleet_report,
            "fleet_report_rows": fleet_report_rows,
            "csp_hash": csp_hash,
        }
