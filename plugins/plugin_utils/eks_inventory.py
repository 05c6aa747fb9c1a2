# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules of the eks_clusters inventory, with no AWS calls: which clusters are kept, what
each host is called and which variables it carries, and how AWS failures are explained.

A *record* is what the plugin keeps (and caches) per cluster: the facts of DescribeCluster
(``eks_access.cluster_facts``, never the CA), plus the account and the AWS profile that listed it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import fnmatch

from ansible_collections.eksops.windows.plugins.module_utils._eks_access import cluster_facts

HOSTNAME_SCHEMES = ("auto", "name", "region/name", "account/region/name")
DEFAULT_STATUSES = ("ACTIVE", "UPDATING")

# filter key -> the record field it matches (tag:<key> and tag-key are handled apart)
FILTER_FIELDS = {
    "name": "name",
    "region": "region",
    "account-id": "account_id",
    "profile": "profile",
    "status": "status",
    "version": "version",
    "platform-version": "platform_version",
    "ip-family": "ip_family",
}

ACCESS_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                 "UnauthorizedException", "Forbidden")
BAD_CREDENTIALS = ("UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
                   "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
                   "AuthFailure", "InvalidAccessKeyId")


class InventoryConfigError(ValueError):
    """An inventory file option that cannot work, with what to do about it."""


def account_of_arn(arn):
    """The account id in an ARN (arn:partition:service:region:account:resource), or None."""
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def cluster_record(cluster, region, profile=None):
    """What the inventory keeps of one DescribeCluster answer: no CA, no credential. Plain
    strings only (``str()`` drops the marks Ansible puts on option values), so a cached record
    carries nothing of the inventory file it came from."""
    record = cluster_facts(cluster, str(region))
    record["account_id"] = account_of_arn(record["arn"])
    record["profile"] = str(profile) if profile else None
    return record


def unique_clusters(records):
    """One record per cluster ARN: a cluster that several profiles can see is kept once, as the
    first profile (in the order of ``profiles``) listed it."""
    seen = set()
    kept = []
    for record in records:
        key = record.get("arn") or (record.get("account_id"), record["region"], record["name"])
        if key not in seen:
            seen.add(key)
            kept.append(record)
    return kept


# --- filters ------------------------------------------------------------------------------------
def check_filters(filters, option):
    """Raise InventoryConfigError for a filter that is not a mapping of known keys."""
    if not isinstance(filters, dict):
        raise InventoryConfigError(
            "%s: each filter must be a mapping of filter names to values, got %r" % (option, filters))
    known = sorted(FILTER_FIELDS) + ["tag-key", "tag:<key>"]
    for key, value in filters.items():
        if not (key in FILTER_FIELDS or key == "tag-key" or (key.startswith("tag:") and len(key) > 4)):
            raise InventoryConfigError(
                "%s: unknown filter '%s'. Known filters: %s." % (option, key, ", ".join(known)))
        if not isinstance(value, (str, int, float, list)):
            raise InventoryConfigError(
                "%s: filter '%s' takes a string or a list of strings (shell-style patterns), got %r"
                % (option, key, value))


def _values(record, key):
    if key == "tag-key":
        return list(record.get("tags") or {})
    if key.startswith("tag:"):
        tags = record.get("tags") or {}
        tag = key[4:]
        return [tags[tag]] if tag in tags else []
    value = record.get(FILTER_FIELDS[key])
    return [] if value is None else [str(value)]


def matches(record, filters):
    """True when every filter of the mapping matches: a filter matches when one of the record's
    values matches one of the filter's shell-style patterns (case-sensitive)."""
    for key, patterns in filters.items():
        patterns = [str(p) for p in (patterns if isinstance(patterns, list) else [patterns])]
        if not any(fnmatch.fnmatchcase(value, pattern)
                   for value in _values(record, key) for pattern in patterns):
            return False
    return True


def select(records, filters=None, include_filters=None, exclude_filters=None, statuses=DEFAULT_STATUSES):
    """The records the inventory keeps, as amazon.aws.aws_ec2 combines its filter options: a
    cluster is kept when it matches ``filters`` or one of ``include_filters`` (everything when both
    are empty), its status is one of ``statuses`` (``all``: any) and no ``exclude_filters`` entry
    matches it."""
    include = ([filters] if filters else []) + list(include_filters or [])
    wanted = None if "all" in [s.lower() for s in statuses] else set(s.upper() for s in statuses)
    kept = []
    for record in records:
        if include and not any(matches(record, f) for f in include):
            continue
        if wanted is not None and (record.get("status") or "").upper() not in wanted:
            continue
        if any(matches(record, f) for f in exclude_filters or []):
            continue
        kept.append(record)
    return kept


# --- host names ---------------------------------------------------------------------------------
def _qualified(record, level):
    if level == "name":
        return record["name"]
    if level == "region/name":
        return "%s/%s" % (record["region"], record["name"])
    return "%s/%s/%s" % (record.get("account_id") or "unknown-account", record["region"], record["name"])


def _arns(records):
    return ", ".join(sorted(r.get("arn") or r["name"] for r in records))


def hostnames(records, scheme="auto"):
    """[(host name, record)] sorted by host name.

    ``auto``: the cluster name; the clusters that share a name are all called ``<region>/<name>``
    instead, or ``<account>/<region>/<name>`` when they also share the region. A fixed scheme
    (``name``, ``region/name``, ``account/region/name``) names every cluster the same way and
    refuses to give two clusters one host name. EKS names cannot hold ``/``, so a qualified name
    never equals a plain one.
    """
    if scheme not in HOSTNAME_SCHEMES:
        raise InventoryConfigError("hostname_scheme: '%s' is not one of %s"
                                   % (scheme, ", ".join(HOSTNAME_SCHEMES)))
    named = {}
    if scheme == "auto":
        by_name = {}
        for record in records:
            by_name.setdefault(record["name"], []).append(record)
        for group in by_name.values():
            for level in HOSTNAME_SCHEMES[1:]:
                names = [_qualified(r, level) for r in group]
                if len(set(names)) == len(names):
                    break
            for name, record in zip(names, group):
                named.setdefault(name, []).append(record)
    else:
        for record in records:
            named.setdefault(_qualified(record, scheme), []).append(record)
    for name, group in named.items():
        if len(group) > 1:
            others = [s for s in HOSTNAME_SCHEMES if s not in (scheme, "name")]
            raise InventoryConfigError(
                "hostname_scheme '%s' gives %d clusters the host name '%s' (%s). Set hostname_scheme to "
                "%s, or use filters that keep only one of them." % (
                    scheme, len(group), name, _arns(group), " or ".join(others)))
    return sorted(((name, group[0]) for name, group in named.items()), key=lambda item: item[0])


# --- host variables -----------------------------------------------------------------------------
def _control_plane_support(record):
    from ansible_collections.eksops.windows.plugins.module_utils._procedure import control_plane_support  # pylint: disable=import-outside-toplevel

    try:
        return control_plane_support(record.get("version"), record.get("platform_version"))["supported"]
    except (TypeError, ValueError):
        return None


def host_vars(record):
    """The variables of one cluster host: the names the collection's roles and playbooks read,
    and ``ansible_connection: local`` (tasks run on the controller and talk to the cluster's API).
    No CA data and no credential, ever."""
    hostvars = {
        "eks_cluster_name": record["name"],
        "aws_region": record["region"],
        "aws_account_id": record.get("account_id"),
        "eks_arn": record.get("arn"),
        "eks_version": record.get("version"),
        "eks_platform_version": record.get("platform_version"),
        "eks_endpoint": record.get("endpoint"),
        "eks_role_arn": record.get("role_arn"),
        "eks_status": record.get("status"),
        "eks_tags": dict(record.get("tags") or {}),
        "eks_ip_family": record.get("ip_family"),
        "eks_authentication_mode": record.get("authentication_mode"),
        # the version table of section 2 (procedure.control_plane_support): a version compare
        # alone puts 1.21 eks.3 below the table, which it is not
        "eks_control_plane_support": _control_plane_support(record),
        "ansible_connection": "local",
    }
    if record.get("profile"):
        hostvars["aws_profile"] = record["profile"]
    return hostvars


# --- regions and errors -------------------------------------------------------------------------
def check_regions(regions, known):
    """Raise InventoryConfigError naming each region that is not in ``known`` (botocore's EKS
    regions in every partition), with the nearest known names."""
    problems = []
    for region in regions:
        if region not in known:
            near = difflib.get_close_matches(str(region), sorted(known), n=2)
            problems.append("'%s'%s" % (region, " (did you mean %s?)" % " or ".join(near) if near else ""))
    if problems:
        raise InventoryConfigError(
            "regions: %s %s where botocore knows EKS. Check the spelling; if a region is newer than "
            "this botocore, upgrade boto3 and botocore."
            % (", ".join(problems), "is not a region" if len(problems) == 1 else "are not regions"))


def explain_client_error(code, message, action, region, who):
    """A message for an AWS error answer to ``action`` (e.g. eks:ListClusters) in ``region``."""
    if code in ACCESS_DENIED:
        return ("%s may not call %s in %s (%s: %s). Grant it eks:ListClusters and eks:DescribeCluster, "
                "use other credentials, or set strict_permissions: false to skip what it may not read."
                % (who, action, region, code, message))
    if code in BAD_CREDENTIALS:
        return ("AWS refused the credentials of %s calling %s in %s (%s: %s). Check the access key, "
                "secret key and session token (temporary credentials expire) or the profile; if %s "
                "is an opt-in region, enable it for the account or leave it out of regions."
                % (who, action, region, code, message, region))
    return "%s failed in %s for %s (%s: %s)" % (action, region, who, code, message)


def no_credentials_message(who, action, region):
    return ("No AWS credentials were found to call %s in %s (tried %s). Give access_key and "
            "secret_key, profile or profiles in the inventory file, or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (an instance or task role works too)."
            % (action, region, who))


def source_failed_message(error, region):
    """Why the inventory source fails (strict_regions) when ``region`` could not be listed."""
    return ("%s. The inventory lists no cluster when a region cannot be listed, and the collection's "
            "playbooks stop on it: run again later, leave %s out of regions, or set strict_regions: false "
            "to list the other regions and profiles and skip this one with a warning." % (error, region))


def nothing_listed_message(skipped):
    """Why the inventory source fails (even with strict_regions: false) when no region was listed."""
    return ("no region could be listed, so the inventory would have no cluster at all: skipped %s "
            "(see the warnings above). Check the credentials, network and endpoint, then run again."
            % "; ".join(skipped))
