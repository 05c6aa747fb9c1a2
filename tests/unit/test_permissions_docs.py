"""The shipped permissions (docs/permissions/) agree with the procedure's own tables: the legacy
object names per flavour (_procedure.py), the CSR signers (_csr.py), one group per file, the
procedure Lease for every writing procedure, IAM documents that IAM would accept. What each rule
allows is proven in the lab (tests/integration/test_permissions.py); this is the cheap part."""

import glob
import json
import os
import re

import pytest
import yaml

from ansible_collections.eksops.windows.plugins.module_utils import (
    _csr as csr,
    _procedure as procedure,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PERMISSIONS = os.path.join(ROOT, "docs", "permissions")
PROCEDURES = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(PERMISSIONS, "rbac", "*.yml")))
WRITING = ("enable", "disable", "prefix_delegation", "workloads", "legacy_install", "legacy_remove",
           "renew_cert", "doctor")
# kind of procedure.LEGACY_KINDS -> (API group, resource)
RESOURCES = {"MutatingWebhookConfiguration": ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
             "Deployment": ("apps", "deployments"), "Service": ("", "services"), "Secret": ("", "secrets"),
             "CertificateSigningRequest": ("certificates.k8s.io", "certificatesigningrequests"),
             "ClusterRoleBinding": ("rbac.authorization.k8s.io", "clusterrolebindings"),
             "ClusterRole": ("rbac.authorization.k8s.io", "clusterroles"),
             "ServiceAccount": ("", "serviceaccounts")}


def documents(procedure_name):
    with open(os.path.join(PERMISSIONS, "rbac", procedure_name + ".yml"), encoding="utf-8") as handle:
        docs = [d for d in yaml.safe_load_all(handle) if d]
    assert [d['kind'] for d in docs] == ['List'], 'one List document per file (ansible-test yamllint)'
    return [item for item in docs[0]['items'] if item]


def rules(procedure_name):
    return [r for d in documents(procedure_name) if d["kind"] in ("ClusterRole", "Role") for r in d["rules"]]


def names_for(procedure_name, group, resource, verb):
    """The resourceNames the procedure may `verb` on group/resource; None for any name."""
    names = set()
    for rule in rules(procedure_name):
        if group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]:
            if not rule.get("resourceNames"):
                return None
            names.update(rule["resourceNames"])
    return names


def legacy_objects():
    """(kind, name) of every object a legacy install of either flavour leaves."""
    found = set()
    for table in [procedure.LEGACY_SHARED] + list(procedure.LEGACY_FLAVOURS.values()):
        for role, name in table.items():
            found.add((procedure.LEGACY_KINDS[role][0], name))
    return found


def test_every_procedure_has_its_files():
    assert PROCEDURES == sorted(["assessment", "disable", "doctor", "enable", "legacy_install", "legacy_remove",
                                 "prefix_delegation", "renew_cert", "workloads"])
    for name in PROCEDURES:
        assert os.path.exists(os.path.join(PERMISSIONS, "iam", name + ".json")), name


@pytest.mark.parametrize("name", PROCEDURES)
def test_roles_are_bound_to_the_procedures_group(name):
    docs = documents(name)
    roles = {(d["kind"], d["metadata"].get("namespace")) for d in docs if d["kind"] in ("ClusterRole", "Role")}
    assert ("ClusterRole", None) in roles
    for doc in docs:
        assert doc["metadata"]["name"] == "eksops-windows:" + name
        if doc["kind"] == "Role":
            assert doc["metadata"]["namespace"] == procedure.LEGACY_NAMESPACE
        if doc["kind"].endswith("Binding"):
            assert doc["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                        "name": "eksops-windows:" + name}]
            kind = "ClusterRole" if doc["kind"] == "ClusterRoleBinding" else "Role"
            assert doc["roleRef"]["kind"] == kind and (kind, doc["metadata"].get("namespace")) in roles
    assert len([d for d in docs if d["kind"].endswith("Binding")]) == len(roles)


@pytest.mark.parametrize("verb", ["get", "delete"])
def test_legacy_remove_may_get_and_delete_every_legacy_object_by_name(verb):
    for kind, name in legacy_objects():
        group, resource = RESOURCES[kind]
        assert name in names_for("legacy_remove", group, resource, verb), (kind, name)


def test_legacy_remove_may_touch_nothing_else():
    wanted = {}
    for kind, name in legacy_objects():
        wanted.setdefault(RESOURCES[kind], set()).add(name)
    for rule in rules("legacy_remove"):
        if rule["apiGroups"] == ["coordination.k8s.io"]:
            continue
        assert rule.get("resourceNames"), rule
        for resource in rule["resources"]:
            assert set(rule["resourceNames"]) <= wanted[(rule["apiGroups"][0], resource)], rule


def test_the_assessment_reads_every_legacy_object():
    for kind, name in legacy_objects():
        group, resource = RESOURCES[kind]
        assert name in names_for("assessment", group, resource, "get"), (kind, name)


@pytest.mark.parametrize("name", ["legacy_install", "renew_cert"])
def test_csr_approval_names_both_signers(name):
    assert names_for(name, "certificates.k8s.io", "signers", "approve") == {
        csr.LEGACY_SIGNER, csr.APP_SERVING_SIGNER}
    csrs = {n for table in procedure.LEGACY_FLAVOURS.values() for k, n in table.items() if k == "csr"}
    assert names_for(name, "certificates.k8s.io", "certificatesigningrequests/approval", "update") == csrs


@pytest.mark.parametrize("name", WRITING)
def test_writing_procedures_may_take_the_lease(name):
    for verb in ("get", "update", "delete"):
        assert names_for(name, "coordination.k8s.io", "leases", verb) == {"eksops-windows"}, verb
    assert names_for(name, "coordination.k8s.io", "leases", "create") is None


def test_the_assessment_writes_nothing():
    for rule in rules("assessment"):
        assert set(rule["verbs"]) <= {"get", "list"}, rule


@pytest.mark.parametrize("name", PROCEDURES)
def test_iam_policies_are_valid_documents(name):
    with open(os.path.join(PERMISSIONS, "iam", name + ".json"), encoding="utf-8") as handle:
        document = json.load(handle)
    assert document["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(set(sids)) == len(sids) and all(re.match(r"^[A-Za-z0-9]+$", s) for s in sids)
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            assert re.match(r"^(eks|iam|ec2|ssm):[A-Z][A-Za-z]+$", action), action
        for resource in [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]:
            assert resource == "*" or resource.startswith("arn:${Partition}:"), resource
        if any(a in ("iam:AttachRolePolicy", "iam:DetachRolePolicy") for a in statement["Action"]):
            assert statement["Condition"] == {"ArnEquals": {"iam:PolicyARN": procedure.policy_arn("${Partition}")}}


def test_the_doctor_writes_only_aws_auth_and_its_lease():
    """The doctor's only Kubernetes write is the identity fix's patch of aws-auth (and the
    procedure Lease); everything it examines is read."""
    for document in documents("doctor"):
        if document["kind"] not in ("ClusterRole", "Role"):
            continue
        for rule in document["rules"]:
            if rule["apiGroups"] == ["coordination.k8s.io"]:
                continue
            writes = set(rule["verbs"]) - {"get", "list"}
            if writes:
                assert document["kind"] == "Role" and writes == {"patch"}, rule
                assert rule["resources"] == ["configmaps"] and rule["resourceNames"] == ["aws-auth"], rule
    for resource in ("nodes", "pods", "events"):
        assert names_for("doctor", "", resource, "list") is None, resource
    assert names_for("doctor", "", "configmaps", "get") >= {"amazon-vpc-cni", "aws-auth"}
    assert procedure.LEGACY_CONTROLLER in names_for("doctor", "apps", "deployments", "get")


def test_the_doctors_only_aws_write_is_the_windows_access_entry():
    with open(os.path.join(PERMISSIONS, "iam", "doctor.json"), encoding="utf-8") as handle:
        actions = [a for s in json.load(handle)["Statement"] for a in s["Action"]]
    reads = re.compile(r"^[a-z0-9]+:(Describe|List|Get)[A-Za-z]+$")
    assert [a for a in actions if not reads.match(a)] == ["eks:CreateAccessEntry"]
    assert {"eks:ListAccessEntries", "eks:DescribeAccessEntry", "iam:GetInstanceProfile",
            "ec2:DescribeImages", "ssm:GetParameter"} <= set(actions)
