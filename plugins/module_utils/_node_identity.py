# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows node identity: which IAM role each Windows node (and Windows managed node group)
runs as, how that role reaches Kubernetes under the cluster's authentication mode (aws-auth
mapRoles, an access entry, or both), what is missing, and the fix where one is safe.

Without group eks:kube-proxy-windows, kube-proxy on a Windows node cannot read Services and
Endpoints, and DNS fails on the node (reference section 10). The rules are data in _procedure.py
(WINDOWS_NODE_GROUPS, AUTH_MODE_READS, RULES); this module reads (through reads.ClusterReads),
judges (pure: judge_role) and writes (fix).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import fnmatch
import re

from ansible_collections.eksops.windows.plugins.module_utils import (
    _procedure as procedure,
    _workloads as workloads,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import AwsError, InputError, KubeError

try:
    import yaml
except ImportError:  # pragma: no cover (ansible-core requires PyYAML)
    yaml = None

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore itself

PROVIDER_ID = re.compile(r"^aws:///[^/]*/(i-[0-9a-f]+)$")
ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/(?:.*/)?([^/]+)$")
ITEM_LINE = re.compile(r"^(\s*)-(\s|$)")


class AllowListError(InputError):
    """A pattern of identity_fix_allowed that cannot be used."""


def provider_instance_id(node):
    """The EC2 instance id of a Node (dict) from spec.providerID (aws:///<zone>/<id>), or None."""
    match = PROVIDER_ID.match(((node.get("spec") or {}).get("providerID") or ""))
    return match.group(1) if match else None


def role_key(arn):
    """(account, role name) of a role ARN, path or not (IAM role names are unique per
    account), or None when it is not a role ARN."""
    match = ROLE_ARN.match(arn or "")
    return (match.group(2), match.group(3)) if match else None


def aws_auth_arn(role_arn):
    """The ARN aws-auth must list for a role: without its path (EKS matches the ARN of the
    assumed-role session, which carries none)."""
    match = ROLE_ARN.match(role_arn or "")
    if not match:
        return role_arn
    return "arn:%s:iam::%s:role/%s" % match.groups()


def parse_map_roles(text):
    """The entries of aws-auth's mapRoles (a YAML list); raises InputError when it is not one."""
    try:
        items = yaml.safe_load(text or "") if (text or "").strip() else []
    except yaml.YAMLError as e:
        raise InputError("ConfigMap kube-system/aws-auth: mapRoles is not valid YAML (%s). Fix it "
                         "by hand first: EKS cannot read it either." % (e,))
    if items is None:
        items = []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InputError("ConfigMap kube-system/aws-auth: mapRoles is not a list of mappings. Fix "
                         "it by hand first: EKS cannot read it either.")
    return items


# --- reading --------------------------------------------------------------------------------

def _role_record(role_arn):
    return {"role_arn": role_arn, "role_name": role_key(role_arn)[1] if role_key(role_arn) else role_arn,
            "sources": [], "windows_nodes": 0, "shared_with_linux": False, "linux_sources": [],
            "aws_auth": {"mapped": False, "groups": [], "username": None, "path_variant": None},
            "access_entry": None, "problems": [], "remedy": "", "detail": "",
            "fix": {"kind": None, "action": "none"}, "allowed_by": None}


def _node_role_of_instance(reads, instance, node_name, unresolved):
    profile = (instance.get("IamInstanceProfile") or {}).get("Arn")
    if not profile:
        unresolved.append({"node": node_name, "reason": "instance %s has no instance profile"
                           % instance.get("InstanceId")})
        return None
    roles = reads.instance_profile_roles(profile)
    if not roles:
        # a refused read is already in the assessment's `incomplete` (refused: not a finding)
        unresolved.append({"node": node_name, "refused": roles is None, "reason": "instance profile %s %s" % (
            profile, "holds no role" if roles == [] else "could not be read (iam:GetInstanceProfile)")})
        return None
    return roles[0]


def _instance_roles(reads, nodes, unresolved):
    """{node name: role ARN} of nodes found through their EC2 instance and instance profile."""
    ids = dict((n["metadata"]["name"], provider_instance_id(n)) for n in nodes)
    for name, instance_id in sorted(ids.items()):
        if not instance_id:
            unresolved.append({"node": name, "refused": False, "reason": "no EC2 instance in spec.providerID"})
    instances = reads.instances([i for i in ids.values() if i])
    roles = {}
    for name, instance_id in sorted(ids.items()):
        if not instance_id:
            continue
        instance = instances.get(instance_id)
        if instance is None:
            refused = reads.refused("ec2:DescribeInstances")
            unresolved.append({"node": name, "refused": refused, "reason": "EC2 does not describe instance %s%s" % (
                instance_id, " (ec2:DescribeInstances was refused)" if refused else "")})
            continue
        role = _node_role_of_instance(reads, instance, name, unresolved)
        if role:
            roles[name] = role
    return roles


def audit(reads):
    """The identity of every Windows node role of the cluster:
    ``{"authentication_mode", "roles": [record], "unresolved": [{"node", "reason"}]}``,
    each record judged by judge_role (problems, remedy, fix kind)."""
    cluster = reads.cluster
    mode = cluster.get("authentication_mode") or procedure.AUTH_MODE_CONFIG_MAP
    nodes = reads.nodes()
    groups = dict((g["nodegroupName"], g) for g in reads.nodegroups() or [])
    records, unresolved = {}, []

    def record_of(role_arn):
        key = role_key(role_arn) or role_arn
        if key not in records:
            records[key] = _role_record(role_arn)
        return records[key]

    for name, group in sorted(groups.items()):
        if (group.get("amiType") or "").startswith(procedure.WINDOWS_AMI_TYPE_PREFIX) and group.get("nodeRole"):
            record_of(group["nodeRole"])["sources"].append(
                {"kind": "nodegroup", "name": name, "os": "windows", "karpenter": False})
    windows = [n for n in nodes if workloads.is_windows_node(n)]
    if not windows and not records:
        return {"authentication_mode": mode, "roles": [], "unresolved": []}
    self_managed = []
    for node in windows:
        labels = node["metadata"].get("labels") or {}
        group = groups.get(labels.get(procedure.NODEGROUP_LABEL))
        if group and group.get("nodeRole"):
            record_of(group["nodeRole"])["windows_nodes"] += 1
        else:
            self_managed.append(node)
    roles = _instance_roles(reads, self_managed, unresolved)
    for node in self_managed:
        name = node["metadata"]["name"]
        if name in roles:
            record = record_of(roles[name])
            record["windows_nodes"] += 1
            record["sources"].append({"kind": "node", "name": name, "os": "windows", "karpenter": bool(
                (node["metadata"].get("labels") or {}).get(procedure.KARPENTER_NODEPOOL_LABEL))})
    _linux_sharing(reads, mode, nodes, groups, records)
    _mappings(reads, mode, records)
    judged = [judge_role(mode, r) for _key, r in sorted(records.items(), key=lambda kv: kv[1]["role_arn"])]
    return {"authentication_mode": mode, "roles": judged, "unresolved": unresolved}


def _linux_sharing(reads, mode, nodes, groups, records):
    """Mark the Windows roles that Linux node groups (and, where the mode makes sharing a
    problem, self-managed Linux nodes) also use."""
    for name, group in sorted(groups.items()):
        if (group.get("amiType") or "").startswith(procedure.WINDOWS_AMI_TYPE_PREFIX):
            continue
        record = records.get(role_key(group.get("nodeRole")) or group.get("nodeRole"))
        if record:
            record["shared_with_linux"] = True
            record["linux_sources"].append({"kind": "nodegroup", "name": name, "os": "linux"})
    if mode == procedure.AUTH_MODE_CONFIG_MAP:
        return  # aws-auth maps one role for both: sharing is no problem there
    linux = [n for n in nodes if workloads.node_os(n) == "linux"
             and not (n["metadata"].get("labels") or {}).get(procedure.NODEGROUP_LABEL)
             and not (n["metadata"].get("labels") or {}).get(procedure.FARGATE_COMPUTE_LABEL)]
    if not linux:
        return
    roles = _instance_roles(reads, linux, [])
    for name, role in sorted(roles.items()):
        record = records.get(role_key(role) or role)
        if record:
            record["shared_with_linux"] = True
            record["linux_sources"].append({"kind": "node", "name": name, "os": "linux"})


def _mappings(reads, mode, records):
    reads_how = procedure.AUTH_MODE_READS[mode]
    if "aws_auth" in reads_how:
        configmap = reads.aws_auth()
        items = parse_map_roles(((configmap or {}).get("data") or {}).get("mapRoles"))
        for record in records.values():
            wanted = aws_auth_arn(record["role_arn"])
            for item in items:
                if item.get("rolearn") == wanted:
                    record["aws_auth"] = {"mapped": True, "groups": list(item.get("groups") or []),
                                          "username": item.get("username"), "path_variant": None}
                    break
                if role_key(item.get("rolearn")) == role_key(record["role_arn"]) and not record["aws_auth"]["mapped"]:
                    record["aws_auth"]["path_variant"] = item.get("rolearn")
    if "access_entry" in reads_how:
        arns = reads.access_entries()
        if arns is None:
            for record in records.values():
                record["access_entry"] = {"type": None, "username": None, "unreadable": True}
            return
        for record in records.values():
            for arn in arns:
                if role_key(arn) == role_key(record["role_arn"]):
                    entry = reads.access_entry(arn)
                    record["access_entry"] = {
                        "principal_arn": arn, "type": (entry or {}).get("type"),
                        "username": (entry or {}).get("username"), "unreadable": entry is None}
                    break


# --- judging --------------------------------------------------------------------------------

def _words(record):
    sources = ["%s %s" % ("node group" if s["kind"] == "nodegroup" else "node", s["name"])
               for s in record["sources"]]
    return "%s (%s)" % (record["role_arn"], ", ".join(sources) or "no Windows node yet")


def judge_role(mode, record):
    """A copy of the record with `problems` (procedure.RULES ids), `detail`, `remedy` and the
    fix kind (`access_entry`, `aws_auth`, or None where only a person can fix it)."""
    record = copy.deepcopy(record)
    reads_how = procedure.AUTH_MODE_READS[mode]
    entry = record["access_entry"] if "access_entry" in reads_how else None
    shared = record["shared_with_linux"]
    problems, fix = [], None
    groups = procedure.WINDOWS_NODE_GROUPS
    if entry and entry.get("unreadable"):
        detail = "the access entries could not be read (eks:ListAccessEntries/DescribeAccessEntry)"
        remedy = "Grant the reads and run again."
        problems = []
    elif entry and entry.get("type") != procedure.ACCESS_ENTRY_WINDOWS:
        problems.append("windows_node_role_wrong_access_entry")
        if shared and mode == procedure.AUTH_MODE_API:
            problems.append("windows_node_role_shared_in_api_mode")
        detail = "its access entry has type %s, not %s%s" % (
            entry.get("type"), procedure.ACCESS_ENTRY_WINDOWS,
            "; Linux nodes use the role too" if shared else "")
        remedy = ("Give the Windows nodes an IAM role of their own with an access entry of type %s. "
                  "An access entry's type cannot be changed, and deleting and re-creating this one "
                  "cuts off every node that uses the role meanwhile, so the collection does not "
                  "do it." % procedure.ACCESS_ENTRY_WINDOWS)
    elif entry:
        if shared and mode == procedure.AUTH_MODE_API:
            problems.append("windows_node_role_shared_in_api_mode")
            detail = "its %s access entry serves Linux nodes too" % entry.get("type")
            remedy = ("Give the Linux nodes a role of their own with an %s access entry (one "
                      "entry per role, of one type)." % procedure.ACCESS_ENTRY_LINUX)
        else:
            detail = "access entry of type %s" % entry.get("type")
            remedy = ""
    elif mode == procedure.AUTH_MODE_API:
        problems.append("windows_node_role_unmapped")
        if shared:
            problems.append("windows_node_role_shared_in_api_mode")
            detail = "no access entry, and Linux nodes use the role too"
            remedy = ("Give the Windows nodes a role of their own and create its access entry of "
                      "type %s (one entry per role, of one type)." % procedure.ACCESS_ENTRY_WINDOWS)
        else:
            fix = "access_entry"
            detail = "no access entry (authentication mode API reads no aws-auth)"
            remedy = "Create an access entry of type %s for the role." % procedure.ACCESS_ENTRY_WINDOWS
    else:
        mapping = record["aws_auth"]
        if not mapping["mapped"]:
            problems.append("windows_node_role_unmapped")
            fix = "access_entry" if (mode == procedure.AUTH_MODE_API_AND_CONFIG_MAP and not shared) else "aws_auth"
            detail = "not in aws-auth mapRoles%s" % (
                "" if mode == procedure.AUTH_MODE_CONFIG_MAP else " and no access entry")
            if mapping.get("path_variant"):
                detail += " (aws-auth lists %s, with a path, which EKS never matches)" % mapping["path_variant"]
            remedy = ("Create an access entry of type %s for the role." % procedure.ACCESS_ENTRY_WINDOWS
                      if fix == "access_entry" else
                      "Add the role (ARN without path) to aws-auth mapRoles with username %s and "
                      "groups %s." % (procedure.NODE_USERNAME, ", ".join(groups)))
        else:
            missing = [g for g in groups if g not in mapping["groups"]]
            if missing:
                problems.append("windows_node_role_without_kube_proxy_windows")
                fix = "aws_auth"
                detail = "mapped in aws-auth without group%s %s" % (
                    "" if len(missing) == 1 else "s", ", ".join(missing))
                remedy = "Add %s to the role's groups in aws-auth mapRoles." % ", ".join(missing)
            else:
                detail = "mapped in aws-auth with %s" % ", ".join(groups)
                remedy = ""
    record.update(problems=problems, detail=detail, remedy=remedy)
    record["fix"] = {"kind": fix if problems else None,
                     "action": "none" if not problems else ("manual" if fix is None else "not_allowed")}
    return record


def findings(identity, finding):
    """The assessment's findings of an audit (`finding` is assessment.finding). A role fixed
    by this run is no longer a finding."""
    found = []
    by_problem = {}
    for record in identity["roles"]:
        if record["fix"]["action"] == "fixed":
            continue
        for problem in record["problems"]:
            by_problem.setdefault(problem, []).append(record)
    for problem in [r for r in procedure.RULES if r in by_problem]:
        records = by_problem[problem]
        found.append(finding(
            problem,
            "Authentication mode %s. %s" % (identity["authentication_mode"], "; ".join(
                "%s: %s" % (_words(r), r["detail"]) for r in records)),
            " ".join(sorted(set(r["remedy"] for r in records))) +
            ("" if problem == "windows_node_role_wrong_access_entry" else
             " Module eks_windows_doctor with state=fixed does it for the roles you allow"
             " (identity_fix_allowed)." if any(r["fix"]["kind"] for r in records) else ""),
            ["Role/%s" % r["role_name"] for r in records]))
    unresolved = [u for u in identity["unresolved"] if not u.get("refused")]
    if unresolved:
        found.append(finding(
            "windows_node_identity_unresolved",
            "; ".join("%s: %s" % (u["node"], u["reason"]) for u in unresolved),
            "Check the nodes' EC2 instances and their instance profiles.",
            ["Node/%s" % u["node"] for u in unresolved]))
    return found


# --- fixing ---------------------------------------------------------------------------------

def parse_allow_list(patterns):
    """Rules of identity_fix_allowed: role ARNs, role names, or globs of either."""
    rules = []
    for pattern in patterns or []:
        pattern = (pattern or "").strip()
        if not pattern:
            continue
        if pattern.startswith("arn:") and ":role/" not in pattern:
            raise AllowListError("identity_fix_allowed: %r is an ARN but not of an IAM role. List "
                                 "role ARNs (arn:aws:iam::111122223333:role/name), role names, or "
                                 "globs of either (win-*). Nothing was changed." % pattern)
        rules.append(pattern)
    return rules


def allowed_by(record, rules):
    for rule in rules:
        target = record["role_arn"] if rule.startswith("arn:") else record["role_name"]
        if fnmatch.fnmatchcase(target, rule) or (
                rule.startswith("arn:") and fnmatch.fnmatchcase(aws_auth_arn(record["role_arn"]), rule)):
            return rule
    return None


def _item_spans(text):
    """[(start, end)] character spans of the top-level items of a block-style YAML list,
    each without the blank and comment lines that end it (they belong to what follows)."""
    lines = text.splitlines(True)
    starts, indent, offset, offsets = [], None, 0, []
    for line in lines:
        offsets.append(offset)
        offset += len(line)
    for number, line in enumerate(lines):
        match = ITEM_LINE.match(line)
        if match and not line.lstrip().startswith("#"):
            if indent is None:
                indent = match.group(1)
            if match.group(1) == indent:
                starts.append(number)
    spans = []
    for position, first in enumerate(starts):
        last = (starts[position + 1] if position + 1 < len(starts) else len(lines)) - 1
        while last > first and (not lines[last].strip() or lines[last].lstrip().startswith("#")):
            last -= 1
        spans.append((offsets[first], offsets[last] + len(lines[last])))
    return spans, indent or ""


def _dump_item(item, indent):
    text = yaml.safe_dump([item], default_flow_style=False, sort_keys=False)
    return "".join(indent + line if line.strip() else line for line in text.splitlines(True))


def edit_map_roles(text, role_arn, groups):
    """mapRoles with the role (ARN without path) given `groups` (its existing groups kept, the
    missing ones appended; a new mapping when the role has none). Every other mapping keeps its
    bytes: only the role's own item is rewritten (its comments with it). Raises InputError when
    the text cannot be edited that way (flow style, say), so that nothing is written."""
    text = text or ""
    items = parse_map_roles(text)
    wanted = aws_auth_arn(role_arn)
    expected = copy.deepcopy(items)
    index = next((i for i, item in enumerate(items) if item.get("rolearn") == wanted), None)
    if index is None:
        expected.append({"rolearn": wanted, "username": procedure.NODE_USERNAME, "groups": list(groups)})
    else:
        current = list(expected[index].get("groups") or [])
        expected[index]["groups"] = current + [g for g in groups if g not in current]
    spans, indent = _item_spans(text)
    if not text.strip() or (not items and text.strip() == "[]"):
        new = _dump_item(expected[-1], "")
    elif len(spans) != len(items):
        raise InputError("ConfigMap kube-system/aws-auth: mapRoles is not a block-style YAML list "
                         "the collection can edit without rewriting the other mappings. Add %s to "
                         "%s by hand. Nothing was changed." % (", ".join(groups), wanted))
    elif index is None:
        new = text + ("" if text.endswith("\n") else "\n") + _dump_item(expected[-1], indent)
    else:
        start, end = spans[index]
        replacement = _dump_item(expected[index], indent)
        if not text[start:end].endswith("\n"):
            replacement = replacement.rstrip("\n")
        new = text[:start] + replacement + text[end:]
    if parse_map_roles(new) != expected:
        raise InputError("ConfigMap kube-system/aws-auth: editing mapRoles for %s would change "
                         "other mappings. Add the groups by hand. Nothing was changed." % wanted)
    return new


def _fix_aws_auth(kube, check_mode, record):
    for _attempt in range(3):
        configmap = kube.get("ConfigMap", procedure.AWS_AUTH_CONFIGMAP, procedure.AWS_AUTH_NAMESPACE,
                             what="Reading ConfigMap kube-system/aws-auth")
        before = ((configmap or {}).get("data") or {}).get("mapRoles") or ""
        after = edit_map_roles(before, record["role_arn"], procedure.WINDOWS_NODE_GROUPS)
        diff = {"before": before, "after": after,
                "before_header": "ConfigMap kube-system/aws-auth mapRoles (before)",
                "after_header": "ConfigMap kube-system/aws-auth mapRoles (after)"}
        if check_mode:
            return diff
        try:
            if configmap is None:
                kube.create({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": procedure.AWS_AUTH_CONFIGMAP,
                                          "namespace": procedure.AWS_AUTH_NAMESPACE},
                             "data": {"mapRoles": after}},
                            what="Creating ConfigMap kube-system/aws-auth")
            else:
                kube.merge_patch("ConfigMap", procedure.AWS_AUTH_CONFIGMAP, procedure.AWS_AUTH_NAMESPACE,
                                 {"metadata": {"resourceVersion": configmap["metadata"]["resourceVersion"]},
                                  "data": {"mapRoles": after}},
                                 what="Patching ConfigMap kube-system/aws-auth (mapRoles of %s)"
                                 % record["role_name"], allow=(409,))
            return diff
        except KubeError as e:
            if e.status != 409:
                raise
    raise KubeError("ConfigMap kube-system/aws-auth changed three times while it was being edited. "
                    "Run again.", status=409)


def _fix_access_entry(clients, check_mode, record):
    after = "principalArn: %s\ntype: %s\n" % (record["role_arn"], procedure.ACCESS_ENTRY_WINDOWS)
    diff = {"before": "", "after": after, "before_header": "access entry of %s (none)" % record["role_name"],
            "after_header": "access entry of %s" % record["role_name"]}
    if check_mode:
        return diff
    eks = clients.aws("eks")
    try:
        eks.create_access_entry(clusterName=clients.cluster["name"], principalArn=record["role_arn"],
                                type=procedure.ACCESS_ENTRY_WINDOWS, aws_retry=True)
    except botocore.exceptions.ClientError as e:
        code = e.response.get("Error", {}).get("Code")
        if code != "ResourceInUseException":
            raise AwsError("Could not create the %s access entry of %s on cluster %s "
                           "(eks:CreateAccessEntry, %s)." % (procedure.ACCESS_ENTRY_WINDOWS,
                                                             record["role_arn"], clients.cluster["name"], code), e)
        found = eks.describe_access_entry(clusterName=clients.cluster["name"],
                                          principalArn=record["role_arn"], aws_retry=True)["accessEntry"]
        if found.get("type") != procedure.ACCESS_ENTRY_WINDOWS:
            raise InputError("While this run was deciding, someone created an access entry of type "
                             "%s for %s on cluster %s. Nothing was changed; see the doctor's report."
                             % (found.get("type"), record["role_arn"], clients.cluster["name"]))
        return None
    except botocore.exceptions.BotoCoreError as e:
        raise AwsError("Could not create the access entry of %s (eks:CreateAccessEntry)."
                       % record["role_arn"], e)
    return diff


def fix(clients, check_mode, identity, rules):
    """(changed, identity, diffs): the fix of every role whose gap has one and that `rules`
    allow; the others keep action `not_allowed` or `manual`."""
    identity = copy.deepcopy(identity)
    changed, diffs = False, []
    for record in identity["roles"]:
        kind = record["fix"]["kind"]
        if not kind:
            continue
        record["allowed_by"] = allowed_by(record, rules)
        if record["allowed_by"] is None:
            record["fix"]["action"] = "not_allowed"
            continue
        if kind == "aws_auth":
            diff = _fix_aws_auth(clients.kube, check_mode, record)
        else:
            diff = _fix_access_entry(clients, check_mode, record)
        if diff is not None:
            diffs.append(diff)
            changed = changed or not check_mode
        record["fix"]["action"] = "would_fix" if check_mode else "fixed"
    return changed, identity, diffs
