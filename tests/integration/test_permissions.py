"""Least privilege (issue 11): every procedure passes as an identity that holds exactly the
permissions shipped in docs/permissions/ (the RBAC applied as shipped, the IAM policy as
shipped), with the result the admin gets; and with one rule removed it fails naming it.

The identities are IAM users of the lab (its IAM stand-in enforces their policies on IAM, EKS,
EC2 and STS: eksopslab.aws.enforce_iam_policies), mapped through aws-auth to the groups the
shipped bindings name. Tests run in file order: each procedure leaves the cluster as the next
one needs it.
"""

import contextlib
import copy
import json
import os
import time

import pytest
import yaml

from eksopslab import kube
from eksopslab.aws import ACCOUNT
from eksopslab.fixtures import expand_lists, object_path
from eksopslab.lab import load_scenario
from eksopslab.testing import ROOT, SCENARIOS, running_lab, task_results

PERMISSIONS = os.path.join(ROOT, "docs", "permissions")
PROCEDURES = ("assessment", "enable", "disable", "prefix_delegation", "workloads",
              "legacy_install", "legacy_remove", "renew_cert", "doctor")
# the fleet report with its doctor columns (fleet_report_doctor, the default): both procedures
REPORT = ("assessment", "doctor")
DOCTOR_TASK = "Examine the Windows nodes, pods and AMIs of the cluster"
AWS_AUTH = "/api/v1/namespaces/kube-system/configmaps/aws-auth"
# migrate_to_control_plane assesses, removes the legacy components, then enables
MIGRATE = ("assessment", "legacy_remove", "enable")
# one IAM action removed from a procedure's policy, for the procedures whose policy holds more
# than eks:DescribeCluster (which every procedure needs first)
WITHOUT_ACTION = {"assessment": "eks:DescribeAddon", "enable": "iam:AttachRolePolicy",
                  "disable": "iam:DetachRolePolicy",
                  "prefix_delegation": "ec2:DescribeInstanceTypes"}
REGION = "us-west-2"
INCOMPLETE = "assessment_incomplete"  # the finding of reads that were refused
ASSESS = os.path.join(ROOT, "tests", "integration", "playbooks", "assess.yml")


def group(procedure):
    return "eksops-windows:" + procedure


def rbac(procedure):
    with open(os.path.join(PERMISSIONS, "rbac", procedure + ".yml"), encoding="utf-8") as handle:
        return expand_lists(yaml.safe_load_all(handle))


def policy(procedures, without=None):
    """The shipped IAM policies of `procedures` as one document, for the lab's account and
    region, without the action `without`."""
    statements = []
    for procedure in procedures:
        with open(os.path.join(PERMISSIONS, "iam", procedure + ".json"), encoding="utf-8") as handle:
            text = handle.read()
        text = text.replace("${Partition}", "aws").replace("${Region}", REGION)
        text = text.replace("${Account}", ACCOUNT)
        for statement in json.loads(text)["Statement"]:
            actions = [a for a in statement["Action"] if a != without]
            if actions:
                # Sids are unique per document: prefix the procedure's name
                sid = procedure.title().replace("_", "") + statement["Sid"]
                statements.append(dict(statement, Sid=sid, Action=actions))
    return {"Version": "2012-10-17", "Statement": statements}


def identities():
    """{user name: (policy, groups)}: one per procedure, one for migrate, and one per
    WITHOUT_ACTION entry (the procedure's groups, its policy minus that action)."""
    found = {f"perm-{p}": (policy([p]), [group(p)]) for p in PROCEDURES}
    found["perm-migrate"] = (policy(MIGRATE), [group(p) for p in MIGRATE])
    found["perm-report"] = (policy(REPORT), [group(p) for p in REPORT])
    for procedure, action in WITHOUT_ACTION.items():
        found[f"perm-{procedure}-minus"] = (policy([procedure], without=action), [group(procedure)])
    return found


@pytest.fixture(scope="module", name="lab")
def permissions_lab(tmp_path_factory):
    scenario = load_scenario(os.path.join(SCENARIOS, "permissions.yml"))
    users = identities()
    scenario["users"] = [{"name": name, "policy": p} for name, (p, _groups) in users.items()]
    for cluster in scenario["clusters"]:
        cluster["map_users"] = [
            {"userarn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "username": name, "groups": groups}
            for name, (_policy, groups) in users.items()]
    with running_lab(str(tmp_path_factory.mktemp("permissions")), scenario) as handle:
        yield handle


def run(lab, playbook, host, *args, user=None, check=False):
    if playbook.startswith("/"):
        path = playbook
    else:
        path = "eksops.windows." + playbook
    return lab.run_playbook(path, "-l", host, *args, check=check,
                            env=lab.aws_env(user) if user else None)


def outcome(parsed, host):
    """What a run did, as the admin and a restricted identity must agree on: the host's play
    stats and the role's custom stats."""
    stats = parsed["stats"][host]
    return ({k: stats[k] for k in ("changed", "failures", "ok", "skipped")},
            parsed.get("global_custom_stats"))


def same_as_admin(lab, playbook, host, user, *args, check=True):
    """Run as the admin then as `user` (check mode by default: nothing changes in between);
    both pass with the same outcome. Returns the user's parsed run."""
    rc, admin, raw = run(lab, playbook, host, *args, check=check)
    assert rc == 0, raw
    rc, parsed, raw = run(lab, playbook, host, *args, user=user, check=check)
    assert rc == 0, raw
    assert outcome(parsed, host) == outcome(admin, host)
    return parsed


def failed_messages(parsed, host):
    messages = []
    for play in parsed["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get(host) or {}
            if result.get("failed"):
                messages.append(result.get("msg", ""))
    return messages


def api(lab, cluster):
    return lab.admin_api(cluster)


def allowed(lab, cluster, user, attributes):
    """The API server's answer (SubjectAccessReview) for `user` with `attributes`."""
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": user, "groups": identities()[user][1] + ["system:authenticated"],
                       "resourceAttributes": attributes}}
    client = api(lab, cluster)
    try:
        return kube.request(client, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                            review)["status"]["allowed"]
    finally:
        client.close()


@contextlib.contextmanager
def without_rule(lab, cluster, procedure, kind, rule, probe):
    """The shipped `kind` (ClusterRole or Role) of `procedure` minus its one rule that has the
    fields of `rule` (e.g. {"verbs": ["escalate"]}), applied
    through the API on `cluster` until the block ends (then the shipped one again). `probe`
    (resource attributes the removed rule allowed) tells when the API server enforces it."""
    shipped, = [d for d in rbac(procedure) if d["kind"] == kind]
    index, = [i for i, r in enumerate(shipped["rules"]) if all(r.get(k) == v for k, v in rule.items())]
    reduced = copy.deepcopy(shipped)
    del reduced["rules"][index]
    user = f"perm-{procedure}"
    client = api(lab, cluster)

    def put(obj):
        current = kube.request(client, "GET", object_path(obj))
        body = dict(obj, metadata=dict(obj["metadata"],
                                       resourceVersion=current["metadata"]["resourceVersion"]))
        kube.request(client, "PUT", object_path(obj), body)

    def wait_for(expected):
        deadline = time.monotonic() + 15
        while allowed(lab, cluster, user, probe) != expected:
            assert time.monotonic() < deadline, f"RBAC of {user} never became {expected}"
            time.sleep(0.2)

    assert allowed(lab, cluster, user, probe), probe  # the shipped rule is what allows it
    put(reduced)
    wait_for(False)
    try:
        yield shipped["rules"][index]
    finally:
        put(shipped)
        wait_for(True)
        client.close()


def assert_named(messages, *words):
    assert messages, "the run failed without a message"
    print("\n".join(messages))  # shown with pytest -rP: what a user reads
    text = " ".join(messages)
    for word in words:
        assert word in text, (word, messages)


# --- assessment ---------------------------------------------------------------------------
def test_assessment_as_the_shipped_identity(lab):
    hosts = ("p-addon", "p-legacy", "p-old")
    admin_rc, admin, raw = run(lab, ASSESS, ",".join(hosts))
    assert admin_rc == 0, raw
    rc, parsed, raw = run(lab, ASSESS, ",".join(hosts), user="perm-assessment")
    assert rc == 0, raw
    assert sorted(task_results(parsed, "Assess the cluster")) == sorted(hosts)
    for host in hosts:
        mine = task_results(parsed, "Assess the cluster")[host]
        theirs = task_results(admin, "Assess the cluster")[host]
        assert [f for f in mine["findings"] if f["id"] == INCOMPLETE] == []  # nothing refused
        volatile = ("invocation", "auth_method")
        assert {k: v for k, v in mine.items() if k not in volatile} == \
            {k: v for k, v in theirs.items() if k not in volatile}
    same_as_admin(lab, "cluster_info", "p-addon", "perm-assessment", check=False)
    # the report, written by each identity into a directory of its own
    # the doctor's columns need the doctor's reads (docs/permissions.md): the assessment's
    # identity writes the report without them
    runs = [run(lab, "fleet_report", "p-old", "-e", f"fleet_report_dir={lab.lab.path(who)}",
                "-e", "fleet_report_doctor=false", user=user)
            for who, user in (("fleet-admin", None), ("fleet-restricted", "perm-assessment"))]
    assert [rc for rc, _parsed, _raw in runs] == [0, 0], runs[1][2]
    assert outcome(runs[1][1], "p-old") == outcome(runs[0][1], "p-old")


def test_assessment_without_an_action_names_it(lab):
    rc, parsed, raw = run(lab, ASSESS, "p-addon", user="perm-assessment-minus")
    assert rc == 0, raw  # an assessment reports what it could not read
    findings = task_results(parsed, "Assess the cluster")["p-addon"]["findings"]
    incomplete, = [f for f in findings if f["id"] == INCOMPLETE]
    assert "eks:DescribeAddon failed (AccessDeniedException)" in incomplete["detail"], incomplete


def test_assessment_without_a_rule_names_it(lab):
    probe = {"verb": "list", "resource": "nodes"}
    with without_rule(lab, "p-addon", "assessment", "ClusterRole", {"resources": ["nodes", "pods"]}, probe):
        rc, parsed, raw = run(lab, "cluster_info", "p-addon", user="perm-assessment")
    assert rc != 0, raw
    assert_named(failed_messages(parsed, "p-addon"), "p-addon", 'cannot list resource "nodes"')


# --- enable (the add-on path), prefix delegation, workloads, disable ------------------------
def attached(lab, cluster):
    iam = lab.boto3_client("iam", REGION)
    return [p["PolicyName"] for p in iam.list_attached_role_policies(
        RoleName=f"{cluster}-cluster-role")["AttachedPolicies"]]


def cni(lab, cluster):
    return lab.get(cluster, "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni")["data"]


def test_enable_without_a_rule_or_an_action_names_it(lab):
    probe = {"verb": "get", "resource": "daemonsets", "group": "apps", "namespace": "kube-system",
             "name": "aws-node"}
    with without_rule(lab, "p-addon", "enable", "Role", {"resources": ["daemonsets"]}, probe):
        rc, parsed, raw = run(lab, "enable", "p-addon", user="perm-enable")
    assert rc != 0, raw
    assert_named(failed_messages(parsed, "p-addon"), "p-addon", 'cannot get resource "daemonsets"')
    rc, parsed, raw = run(lab, "enable", "p-addon", user="perm-enable-minus")
    assert rc != 0, raw
    assert_named(failed_messages(parsed, "p-addon"), "p-addon", "iam:AttachRolePolicy")
    assert "AmazonEKSVPCResourceController" not in attached(lab, "p-addon")


def test_enable_as_the_shipped_identity(lab):
    same_as_admin(lab, "enable", "p-addon", "perm-enable")
    rc, parsed, raw = run(lab, "enable", "p-addon", user="perm-enable")
    assert rc == 0, raw
    assert parsed["stats"]["p-addon"]["changed"] == 1
    assert "AmazonEKSVPCResourceController" in attached(lab, "p-addon")
    assert cni(lab, "p-addon")["enable-windows-ipam"] == "true"
    rc, parsed, raw = run(lab, "enable", "p-addon", user="perm-enable")
    assert rc == 0 and parsed["stats"]["p-addon"]["changed"] == 0, raw


def test_prefix_delegation_without_a_rule_or_an_action_names_it(lab):
    probe = {"verb": "get", "resource": "configmaps", "namespace": "kube-system",
             "name": "amazon-vpc-cni"}
    with without_rule(lab, "p-addon", "prefix_delegation", "Role", {"resourceNames": ["amazon-vpc-cni"]}, probe):
        rc, parsed, raw = run(lab, "prefix_delegation", "p-addon", user="perm-prefix_delegation")
    assert rc != 0, raw
    assert_named(failed_messages(parsed, "p-addon"), "p-addon", 'cannot get resource "configmaps"')
    rc, parsed, raw = run(lab, "prefix_delegation", "p-addon", user="perm-prefix_delegation-minus")
    assert rc != 0, raw
    assert_named(failed_messages(parsed, "p-addon"), "p-addon", "ec2:DescribeInstanceTypes")
    assert cni(lab, "p-addon").get("enable-windows-prefix-delegation", "false") == "false"


def test_prefix_delegation_as_the_shipped_identity(lab):
    same_as_admin(lab, "prefix_delegation", "p-addon", "perm-prefix_delegation")
    rc, parsed, raw = run(lab, "prefix_delegation", "p-addon", user="perm-prefix_delegation")
    assert rc == 0, raw
    assert cni(lab, "p-addon")["enable-windows-prefix-delegation"] == "true"


FIX = ("-e", "workload_selectors_mode=fix", "-e", "workload_selectors_fix_allowed=shop/*")


def node_selector(lab):
    deployment = lab.get("p-addon", "/apis/apps/v1/namespaces/shop/deployments/web")
    return deployment["spec"]["template"]["spec"].get("nodeSelector")


def test_workloads_without_a_rule_names_it(lab):
    probe = {"verb": "patch", "resource": "deployments", "group": "apps", "namespace": "shop",
             "name": "web"}
    with without_rule(lab, "p-addon", "workloads", "ClusterRole", {"verbs": ["get", "patch"]}, probe):
        rc, parsed, raw = run(lab, "workload_selectors", "p-addon", *FIX, user="perm-workloads")
    assert rc != 0, raw
    assert_named(failed_messages(parsed, "p-addon"), "p-addon", 'cannot patch resource "deployments"')
    assert node_selector(lab) is None


def test_workloads_as_the_shipped_identity(lab):
    same_as_admin(lab, "workload_selectors", "p-addon", "perm-workloads", check=False)
    same_as_admin(lab, "workload_selectors", "p-addon", "perm-workloads", *FIX)
    rc, _parsed, raw = run(lab, "workload_selectors", "p-addon", *FIX, user="perm-workloads")
    assert rc == 0, raw
    assert node_selector(lab) == {"kubernetes.io/os": "linux"}


def test_disable_without_a_rule_or_an_action_names_it(lab):
    with without_rule(lab, "p-addon", "disable", "ClusterRole", {"resources": ["nodes"]}, {"verb": "list", "resource": "nodes"}):
        rc, parsed, raw = run(lab, "disable", "p-addon", user="perm-disable")
    assert rc != 0, raw
    assert_named(failed_messages(parsed, "p-addon"), "p-addon", 'cannot list resource "nodes"')
    rc, parsed, raw = run(lab, "disable", "p-addon", user="perm-disable-minus")
    assert rc != 0, raw
    assert_named(failed_messages(parsed, "p-addon"), "p-addon", "iam:DetachRolePolicy")
    assert "AmazonEKSVPCResourceController" in attached(lab, "p-addon")


def test_disable_as_the_shipped_identity(lab):
    same_as_admin(lab, "disable", "p-addon", "perm-disable")
    rc, _parsed, raw = run(lab, "disable", "p-addon", user="perm-disable")
    assert rc == 0, raw
    assert "AmazonEKSVPCResourceController" not in attached(lab, "p-addon")
    assert cni(lab, "p-addon")["enable-windows-ipam"] == "false"


# --- the legacy webhook's certificate (v1 app-serving on 1.24), legacy install and remove ----
def not_after(lab, cluster):
    import base64  # pylint: disable=import-outside-toplevel

    from cryptography import x509  # pylint: disable=import-outside-toplevel

    secret = lab.get(cluster, "/api/v1/namespaces/kube-system/secrets/vpc-admission-webhook-certs")
    return x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["cert.pem"])).not_valid_after_utc


def test_renew_cert_without_a_rule_names_it(lab):
    probe = {"verb": "approve", "resource": "signers", "group": "certificates.k8s.io",
             "name": "beta.eks.amazonaws.com/app-serving"}
    before = not_after(lab, "p-legacy")
    with without_rule(lab, "p-legacy", "renew_cert", "ClusterRole", {"resources": ["signers"]}, probe):
        rc, parsed, raw = run(lab, "renew_cert", "p-legacy", user="perm-renew_cert")
    assert rc != 0, raw
    assert_named(failed_messages(parsed, "p-legacy"), "p-legacy", "beta.eks.amazonaws.com/app-serving")
    assert not_after(lab, "p-legacy") == before


def test_renew_cert_as_the_shipped_identity(lab):
    before = not_after(lab, "p-legacy")
    same_as_admin(lab, "renew_cert", "p-legacy", "perm-renew_cert")
    rc, _parsed, raw = run(lab, "renew_cert", "p-legacy", user="perm-renew_cert")
    assert rc == 0, raw
    assert (not_after(lab, "p-legacy") - before).days > 300


def test_legacy_install_without_a_rule_names_it(lab):
    probe = {"verb": "escalate", "resource": "clusterroles", "group": "rbac.authorization.k8s.io",
             "name": "vpc-resource-controller"}
    with without_rule(lab, "p-old", "legacy_install", "ClusterRole", {"verbs": ["escalate"]}, probe):
        rc, parsed, raw = run(lab, "legacy_install", "p-old", user="perm-legacy_install")
    assert rc != 0, raw
    assert_named(failed_messages(parsed, "p-old"), "p-old", "vpc-resource-controller",
                 "attempting to grant RBAC permissions not currently held")


def legacy_objects(lab, cluster):
    found = []
    for path in ("/apis/apps/v1/namespaces/kube-system/deployments/vpc-resource-controller",
                 "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/vpc-admission-webhook-cfg",
                 "/api/v1/namespaces/kube-system/secrets/vpc-admission-webhook-certs"):
        try:
            lab.get(cluster, path)
            found.append(path)
        except Exception:  # pylint: disable=broad-except
            pass
    return found


def test_legacy_install_as_the_shipped_identity(lab):
    same_as_admin(lab, "legacy_install", "p-old", "perm-legacy_install")
    rc, _parsed, raw = run(lab, "legacy_install", "p-old", user="perm-legacy_install")
    assert rc == 0, raw
    assert len(legacy_objects(lab, "p-old")) == 3
    rc, parsed, raw = run(lab, "legacy_install", "p-old", user="perm-legacy_install")
    assert rc == 0 and parsed["stats"]["p-old"]["changed"] == 0, raw
    # the v1beta1 path (legacy signer) of the renewal, forced
    rc, _parsed, raw = run(lab, "renew_cert", "p-old", "-e", "cert_renew_force=true",
                           user="perm-renew_cert")
    assert rc == 0, raw


def test_legacy_remove_without_a_rule_names_it(lab):
    probe = {"verb": "delete", "resource": "deployments", "group": "apps",
             "namespace": "kube-system", "name": "vpc-admission-webhook-deployment"}
    with without_rule(lab, "p-old", "legacy_remove", "Role", {"resources": ["deployments"]}, probe):
        rc, parsed, raw = run(lab, "legacy_remove", "p-old", user="perm-legacy_remove")
    assert rc != 0, raw
    assert_named(failed_messages(parsed, "p-old"), "p-old", 'resource "deployments"')


def test_legacy_remove_as_the_shipped_identity(lab):
    same_as_admin(lab, "legacy_remove", "p-old", "perm-legacy_remove")
    rc, _parsed, raw = run(lab, "legacy_remove", "p-old", user="perm-legacy_remove")
    assert rc == 0, raw
    assert legacy_objects(lab, "p-old") == []


def test_migrate_as_the_shipped_identities(lab):
    rc, _parsed, raw = run(lab, "migrate_to_control_plane", "p-legacy", user="perm-migrate")
    assert rc == 0, raw
    assert legacy_objects(lab, "p-legacy") == []
    assert cni(lab, "p-legacy")["enable-windows-ipam"] == "true"
    assert "AmazonEKSVPCResourceController" in attached(lab, "p-legacy")


# --- the Windows node doctor --------------------------------------------------------------
def test_doctor_as_the_shipped_identity(lab):
    hosts = ("p-addon", "p-old", "p-doctor")
    rc, admin, raw = run(lab, "windows_doctor", ",".join(hosts))
    assert rc == 0, raw
    rc, parsed, raw = run(lab, "windows_doctor", ",".join(hosts), user="perm-doctor")
    assert rc == 0, raw
    assert sorted(task_results(parsed, DOCTOR_TASK)) == sorted(hosts)
    for host in hosts:
        mine, theirs = task_results(parsed, DOCTOR_TASK)[host], task_results(admin, DOCTOR_TASK)[host]
        assert mine["incomplete"] == [], mine["incomplete"]  # nothing refused
        for key in ("identity", "pods", "ami", "findings", "summary"):
            assert mine[key] == theirs[key], key
    assert task_results(parsed, DOCTOR_TASK)["p-doctor"]["summary"]["identity_gaps"] == 1


def test_the_fleet_report_with_the_doctor_columns_as_the_shipped_identities(lab):
    runs = [run(lab, "fleet_report", "p-doctor", "-e", f"fleet_report_dir={lab.lab.path(who)}", user=user)
            for who, user in (("doctor-admin", None), ("doctor-restricted", "perm-report"))]
    assert [rc for rc, _parsed, _raw in runs] == [0, 0], runs[1][2]
    assert outcome(runs[1][1], "p-doctor") == outcome(runs[0][1], "p-doctor")
    summary = runs[1][1]["global_custom_stats"]["eksops_windows_fleet_report"]["p-doctor"]
    assert summary["identity_gaps"] == 1 and summary["pods_without_ip"] == 1, summary


def test_doctor_fix_as_the_shipped_identity(lab):
    variables = json.dumps({"windows_doctor_state": "fixed", "windows_doctor_identity_fix_allowed": ["p-doc-*"]})
    rc, parsed, raw = run(lab, "windows_doctor", "p-doctor", "-e", variables, user="perm-doctor")
    assert rc == 0, raw
    assert task_results(parsed, DOCTOR_TASK)["p-doctor"]["changed"] is True
    mappings = yaml.safe_load(lab.get("p-doctor", AWS_AUTH)["data"]["mapRoles"])
    [windows] = [m for m in mappings if m["rolearn"].endswith("/p-doc-win")]
    assert windows["groups"] == ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"]
