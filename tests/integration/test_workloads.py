"""Workload OS selectors (issue 5, section 8) and the sample Windows application, against the
lab: audit, check mode, fix where allowed, re-run, clusters that are not mixed, RBAC errors.
State is read back through the API and writes are counted in the API servers' audit logs."""

import json

import pytest

from eksopslab.testing import running_lab, task_results

TASK = "Audit (or fix) the OS selectors of the cluster's workloads"
APPS = "/apis/apps/v1/namespaces"
PLURAL = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}

WITHOUT_SELECTOR = {
    "Deployment/shop/web", "Deployment/shop/api", "StatefulSet/shop/db", "DaemonSet/shop/agent",
    "Deployment/billing/invoices", "StatefulSet/billing/ledger", "DaemonSet/billing/billing-agent",
}
SHOP = {r for r in WITHOUT_SELECTOR if "/shop/" in r}
FIXED = SHOP | {"DaemonSet/billing/billing-agent"}
WITH_SELECTOR = {
    "Deployment/shop/cart": ("linux", "nodeSelector"),
    "Deployment/shop/legacy-report": ("linux", "nodeSelector"),     # beta.kubernetes.io/os
    "Deployment/win/iis": ("windows", "nodeSelector"),
    "Deployment/win/iis-affinity": ("windows", "affinity"),
    "Deployment/kube-system/coredns": ("linux", "nodeSelector"),
    "DaemonSet/kube-system/aws-node": ("linux", "nodeSelector"),
}


@pytest.fixture(scope="module", name="lab")
def workloads_lab(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("wl")), "workloads.yml") as handle:
        yield handle


def pod_spec(lab, ref, cluster="mixed"):
    kind, namespace, name = ref.split("/")
    return lab.get(cluster, f"{APPS}/{namespace}/{PLURAL[kind]}/{name}")["spec"]["template"]["spec"]


def selectors(lab, refs, cluster="mixed"):
    return {ref: pod_spec(lab, ref, cluster).get("nodeSelector") for ref in refs}


def run(lab, host, *extra, check=False, env=None, **variables):
    args = ["-l", host]
    if variables:
        args += ["-e", json.dumps({"workload_selectors_" + k: v for k, v in variables.items()})]
    return lab.run_playbook("eksops.windows.workload_selectors", *args, *extra, check=check,
                            env=env)


def by_ref(result):
    return {w["ref"]: w for w in result["workloads"]}


def test_audit_finds_exactly_the_workloads_without_a_selector(lab):
    before = lab.writes("mixed")
    # the allow list as an AWX survey gives it: one comma-separated string
    rc, parsed, raw = lab.run_playbook(
        "eksops.windows.workload_selectors", "-l", "mixed",
        "-e", "workload_selectors_fix_allowed='shop/*, DaemonSet/billing/*'")
    assert rc == 0, raw
    result = task_results(parsed, TASK)["mixed"]
    assert result["changed"] is False
    assert result["mixed"] is True and result["audited"] is True
    assert result["node_counts"] == {"linux": 2, "windows": 1}
    found = by_ref(result)
    assert {r for r, w in found.items() if w["via"] is None} == WITHOUT_SELECTOR
    assert set(found) == WITHOUT_SELECTOR | set(WITH_SELECTOR)
    for ref, (os_name, via) in WITH_SELECTOR.items():
        assert (found[ref]["os"], found[ref]["via"], found[ref]["action"]) == (os_name, via, "none")
    assert {r for r, w in found.items() if w["action"] == "would_fix"} == FIXED
    assert {r for r, w in found.items() if w["action"] == "not_allowed"} == \
        WITHOUT_SELECTOR - FIXED
    assert found["Deployment/shop/web"]["allowed_by"] == "shop/*"
    assert found["DaemonSet/billing/billing-agent"]["allowed_by"] == "DaemonSet/billing/*"
    assert [w["ref"] for w in result["affinity_only_windows"]] == ["Deployment/win/iis-affinity"]
    assert any("Deployment/win/iis-affinity" in w for w in result.get("warnings", [])), result
    assert result["counts"] == {"total": 13, "with_selector": 6, "without_selector": 7,
                                "would_fix": 5, "fixed": 0, "not_allowed": 2,
                                "affinity_only_windows": 1}
    stats = parsed["global_custom_stats"]["eksops_windows_workload_selectors"]["mixed"]
    assert set(stats["would_fix"]) == FIXED and stats["fixed"] == []
    assert stats["affinity_only_windows"] == ["Deployment/win/iis-affinity"]
    assert lab.writes("mixed") == before


def test_namespaces_are_listed_one_by_one_and_exclusions_apply(lab):
    seen = len(lab.requests("mixed"))
    rc, parsed, raw = run(lab, "mixed", namespaces="shop,win", exclude_namespaces=["w*"])
    assert rc == 0, raw
    result = task_results(parsed, TASK)["mixed"]
    assert {w["namespace"] for w in result["workloads"]} == {"shop"}
    lists = [uri.split("?")[0] for verb, uri, _code in lab.requests("mixed")[seen:] if verb == "list"]
    assert sorted(lists) == sorted(["/api/v1/nodes"] + [
        f"{APPS}/{ns}/{plural}" for ns in ("shop", "win") for plural in PLURAL.values()])


@pytest.mark.parametrize("allowed, words", [
    ([], "fix_allowed: ['shop/*']"),
    ("", "fix_allowed: ['shop/*']"),
    (["Pod/shop/*"], "the kinds are Deployment, StatefulSet, DaemonSet"),
    (["shop"], "is not 'namespace/name' or 'Kind/namespace/name'"),
])
def test_fix_without_a_usable_allow_list_fails_clearly_and_writes_nothing(lab, allowed, words):
    before = lab.writes("mixed")
    rc, parsed, raw = run(lab, "mixed", mode="fix", fix_allowed=allowed)
    assert rc != 0, raw
    msg = task_results(parsed, TASK)["mixed"]["msg"]
    assert words in msg, msg
    assert lab.writes("mixed") == before


def test_check_mode_writes_nothing_and_reports_would_fix(lab):
    before, selectors_before = lab.writes("mixed"), selectors(lab, WITHOUT_SELECTOR)
    rc, parsed, raw = run(lab, "mixed", "--diff", check=True, mode="fix",
                          fix_allowed=["shop/*", "DaemonSet/billing/*"])
    assert rc == 0, raw
    result = task_results(parsed, TASK)["mixed"]
    assert result["changed"] is True
    assert {r for r, w in by_ref(result).items() if w["action"] == "would_fix"} == FIXED
    assert result["counts"]["fixed"] == 0
    diffs = {d["before_header"]: d for d in result["diff"]}
    assert set(diffs) == FIXED
    assert diffs["Deployment/shop/api"]["before"] == {"nodeSelector": {"disktype": "ssd"}}
    assert diffs["Deployment/shop/api"]["after"] == {
        "nodeSelector": {"disktype": "ssd", "kubernetes.io/os": "linux"}}
    assert lab.writes("mixed") == before
    assert selectors(lab, WITHOUT_SELECTOR) == selectors_before


def test_fix_patches_only_what_is_allowed_and_keeps_other_keys(lab):
    untouched = selectors(lab, (WITHOUT_SELECTOR - FIXED) | set(WITH_SELECTOR))
    affinity_before = pod_spec(lab, "Deployment/win/iis-affinity")
    before = lab.writes("mixed")
    rc, parsed, raw = run(lab, "mixed", "--diff", mode="fix",
                          fix_allowed=["shop/*", "DaemonSet/billing/*"])
    assert rc == 0, raw
    result = task_results(parsed, TASK)["mixed"]
    assert result["changed"] is True
    assert {r for r, w in by_ref(result).items() if w["action"] == "fixed"} == FIXED
    assert by_ref(result)["Deployment/shop/web"]["via"] == "nodeSelector"
    assert {d["before_header"] for d in result["diff"]} == FIXED

    # read back: the OS key was added, nothing else changed
    after = selectors(lab, FIXED)
    assert after["Deployment/shop/api"] == {"disktype": "ssd", "kubernetes.io/os": "linux"}
    for ref in FIXED - {"Deployment/shop/api"}:
        assert after[ref] == {"kubernetes.io/os": "linux"}, ref
    assert selectors(lab, set(untouched)) == untouched
    assert pod_spec(lab, "Deployment/win/iis-affinity") == affinity_before

    # one merge patch per fixed workload and no other write (but the procedure lock's: its Lease)
    new = [w for w in lab.writes("mixed")[len(before):] if "/apis/coordination.k8s.io/" not in w[1]]
    assert sorted(uri.split("?")[0] for _verb, uri, _code in new) == sorted(
        f"{APPS}/{ref.split('/')[1]}/{PLURAL[ref.split('/')[0]]}/{ref.split('/')[2]}" for ref in FIXED)
    assert {(verb, code) for verb, _uri, code in new} == {("patch", 200)}
    stats = parsed["global_custom_stats"]["eksops_windows_workload_selectors"]["mixed"]
    assert set(stats["fixed"]) == FIXED


def test_second_run_changes_nothing(lab):
    before = lab.writes("mixed")
    rc, parsed, raw = run(lab, "mixed", mode="fix", fix_allowed=["shop/*", "DaemonSet/billing/*"])
    assert rc == 0, raw
    assert parsed["stats"]["mixed"]["changed"] == 0
    result = task_results(parsed, TASK)["mixed"]
    assert result["changed"] is False
    assert {r for r, w in by_ref(result).items() if w["action"] != "none"} == WITHOUT_SELECTOR - FIXED
    assert lab.writes("mixed") == before


def test_a_cluster_that_is_not_mixed_has_nothing_to_do(lab):
    before = lab.writes("linux-only")
    rc, parsed, raw = run(lab, "linux-only", mode="fix", fix_allowed="*/*")
    assert rc == 0, raw
    result = task_results(parsed, TASK)["linux-only"]
    assert result["changed"] is False
    assert (result["mixed"], result["audited"], result["workloads"]) == (False, False, [])
    assert result["node_counts"] == {"linux": 2, "windows": 0}
    assert "not a mixed cluster (2 Linux, 0 Windows nodes)" in result["msg"]
    assert "only_mixed=false" in result["msg"]
    assert lab.writes("linux-only") == before
    assert not [r for r in lab.requests("linux-only") if "/apis/apps/" in r[1]]

    rc, parsed, raw = run(lab, "linux-only", only_mixed=False, exclude_namespaces="kube-system")
    assert rc == 0, raw
    result = task_results(parsed, TASK)["linux-only"]
    assert result["audited"] is True
    assert [(w["ref"], w["action"]) for w in result["workloads"]] == [
        ("Deployment/shop/web", "not_allowed")]


def test_a_missing_patch_permission_is_named(lab):
    env = lab.aws_env("auditor")
    rc, parsed, raw = run(lab, "locked", env=env, fix_allowed="shop/*")
    assert rc == 0, raw  # auditing needs list only
    assert task_results(parsed, TASK)["locked"]["counts"]["would_fix"] == 1
    rc, parsed, raw = run(lab, "locked", env=env, mode="fix", fix_allowed="shop/*")
    assert rc != 0, raw
    msg = task_results(parsed, TASK)["locked"]["msg"]
    assert "Patching Deployment shop/web (needs RBAC 'patch' on deployments.apps in namespace " \
           "shop): forbidden (403)" in msg, msg
    assert 'User "auditor" cannot patch resource "deployments"' in msg, msg
    assert pod_spec(lab, "Deployment/shop/web", "locked").get("nodeSelector") is None


def test_a_missing_list_permission_is_named(lab):
    rc, parsed, raw = run(lab, "locked", env=lab.aws_env("nodes-only"))
    assert rc != 0, raw
    msg = task_results(parsed, TASK)["locked"]["msg"]
    assert "Listing Deployments in all namespaces (needs RBAC 'list' on deployments.apps " \
           "cluster-wide): forbidden (403)" in msg, msg


# --- the sample Windows application ------------------------------------------------------

SAMPLE_NS = "eks-sample-app"
SAMPLE_DEPLOYMENT = f"{APPS}/{SAMPLE_NS}/deployments/eks-sample-windows-deployment"
SAMPLE_SERVICE = f"/api/v1/namespaces/{SAMPLE_NS}/services/eks-sample-windows-service"


def sample(lab, host, *extra, check=False, **variables):
    args = ["-l", host]
    if variables:
        args += ["-e", json.dumps({"windows_sample_" + k: v for k, v in variables.items()})]
    return lab.run_playbook("eksops.windows.deploy_windows_sample", *args, *extra, check=check)


def exists(lab, path, cluster="mixed"):
    from kubernetes.client.exceptions import ApiException  # pylint: disable=import-outside-toplevel
    try:
        lab.get(cluster, path)
        return True
    except ApiException as e:
        if e.status == 404:
            return False
        raise


def test_sample_check_mode_creates_nothing(lab):
    before = lab.writes("mixed")
    rc, parsed, raw = sample(lab, "mixed", check=True)
    assert rc == 0, raw
    assert parsed["stats"]["mixed"]["changed"] >= 1
    assert not exists(lab, f"/api/v1/namespaces/{SAMPLE_NS}")
    # kubernetes.core dry-runs on the server in check mode: no write without dryRun
    assert [r for r in lab.writes("mixed")[len(before):] if "dryRun=All" not in r[1]] == []


def test_sample_is_refused_without_a_windows_node(lab):
    rc, parsed, raw = sample(lab, "linux-only")
    assert rc != 0, raw
    msg = task_results(parsed, "Refuse a cluster with no Windows node")["linux-only"]["msg"]
    assert "has no Windows node" in msg and "windows_sample_force=true" in msg, msg
    assert not exists(lab, f"/api/v1/namespaces/{SAMPLE_NS}", "linux-only")
    rc, _parsed, raw = sample(lab, "linux-only", check=True, force=True)
    assert rc == 0, raw


def test_sample_deploys_with_the_windows_selectors_and_is_idempotent(lab):
    rc, parsed, raw = sample(lab, "mixed")
    assert rc == 0, raw
    assert parsed["stats"]["mixed"]["changed"] == 2  # the namespace, then the app
    deployment = lab.get("mixed", SAMPLE_DEPLOYMENT)
    spec = deployment["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "windows", "kubernetes.io/arch": "amd64"}
    assert spec["containers"][0]["image"] == \
        "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2019"
    assert spec["containers"][0]["ports"][0]["containerPort"] == 80
    assert deployment["spec"]["replicas"] == 3
    service = lab.get("mixed", SAMPLE_SERVICE)
    assert service["spec"]["selector"] == {"app": "eks-sample-windows-app"}
    assert service["spec"]["ports"][0]["port"] == 80
    namespace = lab.get("mixed", f"/api/v1/namespaces/{SAMPLE_NS}")
    assert namespace["metadata"]["labels"]["app.kubernetes.io/managed-by"] == \
        "eksops.windows.windows_sample"

    before = lab.writes("mixed")
    rc, parsed, raw = sample(lab, "mixed")
    assert rc == 0, raw
    assert parsed["stats"]["mixed"]["changed"] == 0
    # kubernetes.core patches what exists; an unchanged patch leaves the objects as they were
    assert lab.get("mixed", SAMPLE_DEPLOYMENT)["metadata"]["resourceVersion"] == \
        deployment["metadata"]["resourceVersion"]
    assert {r[0] for r in lab.writes("mixed")[len(before):]} <= {"patch"}

    # the workload audit sees the sample as a Windows workload selected the right way
    rc, parsed, raw = run(lab, "mixed", namespaces=SAMPLE_NS)
    assert rc == 0, raw
    found = by_ref(task_results(parsed, TASK)["mixed"])
    assert found[f"Deployment/{SAMPLE_NS}/eks-sample-windows-deployment"]["os"] == "windows"


def test_sample_absent_removes_it(lab):
    rc, parsed, raw = sample(lab, "mixed", check=True, state="absent")
    assert rc == 0, raw
    assert exists(lab, SAMPLE_DEPLOYMENT)
    rc, parsed, raw = sample(lab, "mixed", state="absent")
    assert rc == 0, raw
    assert parsed["stats"]["mixed"]["changed"] == 2
    for path in (SAMPLE_DEPLOYMENT, SAMPLE_SERVICE, f"/api/v1/namespaces/{SAMPLE_NS}"):
        assert not exists(lab, path), path
    rc, parsed, raw = sample(lab, "mixed", state="absent")
    assert rc == 0, raw
    assert parsed["stats"]["mixed"]["changed"] == 0


def test_sample_in_a_namespace_it_did_not_create_leaves_the_namespace(lab):
    rc, parsed, raw = sample(lab, "mixed", namespace="win", replicas=1)
    assert rc == 0, raw
    assert lab.get("mixed", f"{APPS}/win/deployments/eks-sample-windows-deployment")["spec"][
        "replicas"] == 1
    labels = lab.get("mixed", "/api/v1/namespaces/win")["metadata"].get("labels") or {}
    assert "app.kubernetes.io/managed-by" not in labels
    rc, parsed, raw = sample(lab, "mixed", namespace="win", state="absent")
    assert rc == 0, raw
    assert not exists(lab, f"{APPS}/win/deployments/eks-sample-windows-deployment")
    assert exists(lab, "/api/v1/namespaces/win")
    assert exists(lab, f"{APPS}/win/deployments/iis")


# --- issue 11, item 9: K8S_AUTH_* as every role honours them; a host that names no cluster -----

def test_sample_honours_k8s_auth_kubeconfig(lab):
    """With K8S_AUTH_KUBECONFIG set, the role reaches the API server through that kubeconfig (the
    lab's admin certificate, user lab-admin), not through an EKS token (user kubernetes-admin)."""
    kubeconfig = lab.cluster("mixed")["admin_kubeconfig"]
    by_token, by_kubeconfig = len(lab.requests("mixed")), len(lab.requests("mixed", "lab-admin"))
    rc, parsed, raw = lab.run_playbook("eksops.windows.deploy_windows_sample", "-l", "mixed", check=True,
                                       env={"K8S_AUTH_KUBECONFIG": kubeconfig})
    assert rc == 0, raw
    assert task_results(parsed, "Build a kubeconfig for the cluster (its user makes EKS tokens on demand; "
                                "none is stored)")["mixed"].get("skipped") is True
    made = lab.requests("mixed", "lab-admin")[by_kubeconfig:]
    assert ("list", "/api/v1/nodes?labelSelector=kubernetes.io%2Fos%3Dwindows", 200) in made or \
        any(r[0] == "list" and r[1].startswith("/api/v1/nodes") for r in made), made
    assert lab.requests("mixed")[by_token:] == []
    assert not exists(lab, f"/api/v1/namespaces/{SAMPLE_NS}")  # check mode


NAMELESS_PLAYBOOKS = ("deploy_windows_sample", "enable", "disable", "fleet_report", "legacy_install",
                      "legacy_remove", "prefix_delegation", "renew_cert", "workload_selectors",
                      "migrate_to_control_plane", "cluster_info")


@pytest.mark.parametrize("playbook", NAMELESS_PLAYBOOKS)
def test_a_host_without_eks_cluster_name_is_told_what_to_set(lab, tmp_path, playbook):
    inventory = tmp_path / "nameless.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"nameless": {
        "aws_region": "us-west-2", "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}))
    rc, parsed, raw = lab.run_playbook("eksops.windows." + playbook, "-e", "fleet_report_dir=%s" % tmp_path,
                                       inventory=str(inventory), check=True)
    assert rc != 0, raw
    msg = task_results(parsed, "Check that the host names its EKS cluster")["nameless"]["msg"]
    assert "Host nameless does not say which EKS cluster it is: eks_cluster_name" in msg, msg
    assert "aws_region" not in msg.split(" not set.")[0], msg  # it is set
    assert "eksops.windows.eks_clusters" in msg, msg
    assert "is undefined" not in raw


def test_sample_refuses_a_k8s_auth_kubeconfig_of_another_cluster(lab):
    """kubernetes.core does not check which cluster K8S_AUTH_KUBECONFIG leads to; the role proves
    it first with the collection's module, so the sample never lands on the wrong cluster."""
    other = next(name for name in lab.info["clusters"] if name != "mixed")
    writes = lab.writes(other, "lab-admin")
    rc, parsed, raw = lab.run_playbook(
        "eksops.windows.deploy_windows_sample", "-l", "mixed",
        env={"K8S_AUTH_KUBECONFIG": lab.cluster(other)["admin_kubeconfig"]})
    assert rc != 0, raw
    msg = task_results(parsed, "Prove that the K8S_AUTH_* variables reach this EKS cluster")["mixed"]["msg"]
    assert "is not EKS cluster 'mixed'" in msg, msg
    assert lab.writes(other, "lab-admin") == writes
