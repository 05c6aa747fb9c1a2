# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows AMI drift and expiry: for every Windows managed node group and every image that
self-managed Windows nodes run, how far it is behind the latest EKS optimized Windows AMI (the
public SSM parameters), and how many days are left before Amazon makes it private (about four
months after its release: procedure.WINDOWS_AMI_RETENTION_MONTHS), after which no instance of it
can be launched and a node group cannot scale out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.eksops.windows.plugins.module_utils import (
    _procedure as procedure,
    _workloads as workloads,
)

DATE = re.compile(r"(20\d{2})[.-]?(\d{2})[.-]?(\d{2})")


def release_date(text):
    """The release date in an AMI name or a release version (2026.09.10, 2026-09-10,
    20260910), or None."""
    for match in DATE.finditer(text or ""):
        try:
            return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            continue
    return None


def creation_date(text):
    """The date of EC2's CreationDate (2026-08-01T10:00:00.000Z), or None."""
    try:
        return datetime.datetime.strptime((text or "")[:10], "%Y-%m-%d").date()
    except ValueError:
        return None


def add_months(day, months):
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return datetime.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def days_left(released, today):
    """Days until an AMI released on `released` is made private (negative: since)."""
    if released is None:
        return None
    return (add_months(released, procedure.WINDOWS_AMI_RETENTION_MONTHS) - today).days


def image_facts(name):
    """(release, option, kubernetes version, release date) of an EKS optimized Windows AMI
    name, or None for another image."""
    match = re.match(procedure.WINDOWS_AMI_NAME, name or "")
    if not match:
        return None
    release, option, version = match.group(1), match.group(2), match.group(3)
    return release, option, version, release_date(name[match.start(4):])


def windows_server_of(name):
    match = re.search(r"Windows_Server-(\d{4})", name or "")
    return match.group(1) if match else None


def _latest(reads, release, option, version):
    """(image id, image) of the latest EKS optimized Windows AMI for that release, option and
    Kubernetes version, from its public SSM parameter; (None, None) when unknown."""
    name = procedure.WINDOWS_AMI_PARAMETER.format(release=release, option=option, version=version)
    image_id = reads.ssm_parameter(name)
    if not image_id:
        return None, None
    return image_id, reads.images([image_id]).get(image_id)


def _status(record, warning_days, outdated):
    if record["status"] == "not_visible":
        return "not_visible"
    days = record["days_left"]
    if days is None:
        return "unknown"
    if days < 0:
        return "expired"
    if days <= warning_days:
        return "expiring"
    return "outdated" if outdated else "current"


def _record(kind, name, **facts):
    record = {"kind": kind, "name": name, "nodes": [], "instance_id": None, "ami_type": None,
              "image_id": None, "image_name": None, "windows_server": None, "release_version": None,
              "latest_release_version": None, "latest_image_id": None, "created": None,
              "days_left": None, "status": "unknown", "detail": ""}
    record.update(facts)
    return record


def drift(reads, warning_days=procedure.AMI_WARNING_DAYS, today=None):
    """One record per Windows managed node group and per image of self-managed Windows nodes."""
    today = today or datetime.datetime.now(datetime.timezone.utc).date()
    cluster_version = reads.cluster.get("version")
    records = []
    for group in sorted(reads.nodegroups() or [], key=lambda g: g["nodegroupName"]):
        ami_type = group.get("amiType") or ""
        if ami_type not in procedure.AMI_TYPE_IMAGE:
            continue
        release, option = procedure.AMI_TYPE_IMAGE[ami_type]
        version = group.get("version") or cluster_version
        current = group.get("releaseVersion")
        released = release_date(current)
        latest_id, latest = _latest(reads, release, option, version)
        latest_facts = image_facts((latest or {}).get("Name"))
        latest_date = latest_facts[3] if latest_facts else None
        record = _record("nodegroup", group["nodegroupName"], ami_type=ami_type, windows_server=release,
                         release_version=current, latest_image_id=latest_id,
                         latest_release_version="%s-%s" % (version, latest_date.strftime("%Y.%m.%d"))
                         if latest_date else None,
                         created=released.isoformat() if released else None,
                         days_left=days_left(released, today))
        outdated = bool(released and latest_date and latest_date > released)
        record["status"] = _status(record, warning_days, outdated)
        record["detail"] = "release %s%s; %s" % (
            current or "unknown", " (latest %s)" % record["latest_release_version"]
            if record["latest_release_version"] else " (latest unknown: ssm:GetParameter %s)" % (
                procedure.WINDOWS_AMI_PARAMETER.format(release=release, option=option, version=version)),
            _days_words(record))
        records.append(record)
    records += _self_managed(reads, warning_days, today, cluster_version)
    return records


def _days_words(record):
    if record["status"] == "not_visible":
        return "the image is no longer visible to this account: no new instance can be launched"
    if record["days_left"] is None:
        return "release date unknown"
    if record["days_left"] < 0:
        return "made private %d day(s) ago (about %d months after its release on %s)" % (
            -record["days_left"], procedure.WINDOWS_AMI_RETENTION_MONTHS, record["created"])
    return "%d day(s) left before it is made private" % record["days_left"]


def _self_managed(reads, warning_days, today, cluster_version):
    from ansible_collections.eksops.windows.plugins.module_utils._node_identity import provider_instance_id  # pylint: disable=import-outside-toplevel

    nodes = [n for n in reads.nodes() if workloads.is_windows_node(n)
             and not workloads.node_labels(n).get(procedure.NODEGROUP_LABEL)]
    ids = dict((n["metadata"]["name"], provider_instance_id(n)) for n in nodes)
    instances = reads.instances([i for i in ids.values() if i]) if any(ids.values()) else {}
    by_image = {}
    for name, instance_id in sorted(ids.items()):
        image_id = (instances.get(instance_id) or {}).get("ImageId")
        if image_id:
            by_image.setdefault(image_id, []).append((name, instance_id))
    images = reads.images(sorted(by_image)) if by_image else {}
    records = []
    for image_id, users in sorted(by_image.items()):
        image = images.get(image_id)
        names = [u[0] for u in users]
        label = names[0] + (" (+%d more)" % (len(names) - 1) if len(names) > 1 else "")
        record = _record("instance", label, nodes=names, instance_id=users[0][1], image_id=image_id)
        if image is None and reads.refused("ec2:DescribeImages"):
            record["detail"] = "%s: ec2:DescribeImages was refused, the image's age is unknown" % image_id
            records.append(record)
            continue
        if image is None:
            record["status"] = "not_visible"
            record["detail"] = "%s: %s" % (image_id, _days_words(record))
            records.append(record)
            continue
        facts = image_facts(image.get("Name"))
        created = creation_date(image.get("CreationDate"))
        record.update(image_name=image.get("Name"), windows_server=windows_server_of(image.get("Name")),
                      created=created.isoformat() if created else None,
                      days_left=days_left(created, today))
        outdated = False
        if facts:
            latest_id, latest = _latest(reads, facts[0], facts[1], facts[2])
            record["latest_image_id"] = latest_id
            latest_created = creation_date((latest or {}).get("CreationDate"))
            outdated = bool(latest_id and latest_id != image_id and latest_created and created
                            and latest_created > created)
        record["status"] = _status(record, warning_days, outdated)
        record["detail"] = "%s %s%s; %s" % (
            image_id, image.get("Name"),
            " (latest %s)" % record["latest_image_id"] if record["latest_image_id"] else "",
            _days_words(record))
        records.append(record)
    return records


def findings_of(records, finding):
    """The assessment's findings for the records (`finding` is assessment.finding)."""
    found = []
    groups = (
        ("windows_ami_expired", ("expired", "not_visible"),
         "Move the nodes to the latest EKS optimized Windows AMI (managed node groups: "
         "UpdateNodegroupVersion; self-managed: a new launch template version and an instance "
         "refresh) before the group needs to scale out."),
        ("windows_ami_expiring", ("expiring",),
         "Update the nodes to the latest EKS optimized Windows AMI before it is made private."),
        ("windows_ami_outdated", ("outdated",),
         "Update the nodes to the latest EKS optimized Windows AMI."),
    )
    for finding_id, statuses, remedy in groups:
        chosen = [r for r in records if r["status"] in statuses]
        if chosen:
            found.append(finding(finding_id, "; ".join("%s %s: %s" % (
                "node group" if r["kind"] == "nodegroup" else "nodes", r["name"], r["detail"])
                for r in chosen), remedy, [_object(r) for r in chosen]))
    old = [r for r in records if r["windows_server"] in procedure.WINDOWS_SERVER_MAINSTREAM_END]
    if old:
        found.append(finding(
            "windows_server_2019",
            "Windows Server 2019 on %s (mainstream support ended %s)." % (
                ", ".join(_object(r) for r in old), procedure.WINDOWS_SERVER_MAINSTREAM_END["2019"]),
            "Plan a move to Windows Server 2022 or 2025 node groups (a new node group: the OS of a "
            "node group cannot change); Windows containers must match the host's version.",
            [_object(r) for r in old]))
    return found


def _object(record):
    if record["kind"] == "nodegroup":
        return "Nodegroup/%s" % record["name"]
    return "Node/%s" % record["nodes"][0] if record["nodes"] else "Image/%s" % record["image_id"]
