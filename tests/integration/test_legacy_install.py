"""legacy_install and migrate_to_control_plane (issue 4) against the lab."""

import base64

import pytest
from cryptography import x509

from eksopslab import kube
from eksopslab.testing import running_lab, task_results

DEPLOY = "Deploy the legacy controller, webhook and kube-proxy binding, and the webhook certificate"
KS = "/apis/apps/v1/namespaces/kube-system/deployments"
MWC = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
CRB = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"


@pytest.fixture(scope="module", name="lab")
def legacy_lab(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("li")), "legacy_install.yml") as handle:
        yield handle


def install(lab, hosts, *extra, check=False):
    return lab.run_playbook("eksops.windows.legacy_install", "-l", ",".join(hosts), *extra,
                            check=check)


def snapshot(lab, name):
    """Everything a legacy install touches, by kind and name."""
    found = {}
    for path in (KS, "/api/v1/namespaces/kube-system/services",
                 "/api/v1/namespaces/kube-system/secrets",
                 "/api/v1/namespaces/kube-system/serviceaccounts",
                 "/apis/rbac.authorization.k8s.io/v1/clusterroles", CRB, MWC,
                 "/api/v1/namespaces/kube-system/configmaps"):
        for item in lab.get(name, path)["items"]:
            if "-token-" in item["metadata"]["name"]:  # generated for ServiceAccounts
                continue
            found[(path, item["metadata"]["name"])] = item["metadata"]["uid"]
    return found


def test_check_mode_writes_nothing(lab):
    before = lab.writes(["old-119"])
    rc, parsed, raw = install(lab, ["old-119"], check=True)
    assert rc == 0, raw
    result = task_results(parsed, DEPLOY)["old-119"]
    assert {o["action"] for o in result["objects"]} == {"created"}
    assert result["webhook_certificate"]["changed"] is True
    assert result["webhook_certificate"]["issued"] is False
    assert lab.writes(["old-119"]) == before


def test_a_renew_before_out_of_range_is_refused_before_any_object_is_written(lab):
    before = lab.writes(["old-119"])
    rc, parsed, _raw = install(lab, ["old-119"], "-e", "legacy_install_renew_before_days=400")
    assert rc != 0
    result = task_results(parsed, DEPLOY)["old-119"]
    assert "renew_before is 400; give 0 to 364 days" in result["msg"]
    assert result["changed"] is False
    assert lab.writes(["old-119"]) == before


def test_refusals_say_why(lab):
    # the module's legacy gate (gates.legacy) is the only gate: the role no longer runs preflight
    rc, parsed, _raw = install(lab, ["fargate-only", "qualifies"])
    assert rc != 0
    results = task_results(parsed, DEPLOY)
    assert "needs a Linux node" in results["fargate-only"]["msg"]
    assert results["fargate-only"]["preflight"]["blocker_ids"] == ["legacy_needs_linux_node"]
    assert "control-plane support is possible" in results["qualifies"]["msg"]
    assert "use role enable" in results["qualifies"]["msg"]
    assert lab.writes(["fargate-only", "qualifies"]) == {"fargate-only": [], "qualifies": []}


def test_install_deploys_everything_with_current_apis(lab):
    rc, parsed, raw = install(lab, ["old-119", "cn-old"])
    assert rc == 0, raw
    # one module call per cluster: the objects and the certificate in one task, then reporting
    for name in ("old-119", "cn-old"):
        ran = [t["task"]["name"].split(" : ", 1)[-1] for play in parsed["plays"]
               for t in play["tasks"] if name in t["hosts"]]
        ran = [n for n in ran if not n.startswith("Validating arguments against arg spec")
               and n != "Check that the host names its EKS cluster"]  # an assert, no module
        assert ran == [DEPLOY, "Hand the cluster's summary to set_stats",
                       "Print the cluster's summary"], ran
    stats = parsed["global_custom_stats"]["eksops_windows_legacy_install"]
    assert stats["old-119"]["certificate_issued"] is True
    assert stats["old-119"]["certificate_not_after"]
    for name, registry in (("old-119", "602401143452.dkr.ecr.us-west-2.amazonaws.com"),
                           ("cn-old", "918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn")):
        webhook = lab.get(name, f"{KS}/vpc-admission-webhook-deployment")
        assert webhook["spec"]["template"]["spec"]["containers"][0]["image"] == \
            f"{registry}/eks/vpc-admission-webhook:v0.2.7"
        controller = lab.get(name, f"{KS}/vpc-resource-controller")
        assert controller["spec"]["template"]["spec"]["hostNetwork"] is True
        hook = lab.get(name, f"{MWC}/vpc-admission-webhook-cfg")["webhooks"][0]
        with open(lab.cluster(name)["pki"]["ca_file"], "rb") as handle:
            assert base64.b64decode(hook["clientConfig"]["caBundle"]) == handle.read()
        assert hook["sideEffects"] == "None"
        proxy = lab.get(name, f"{CRB}/eks:kube-proxy-windows")
        assert proxy["roleRef"]["name"] == "system:node-proxier"
        secret = lab.get(name, "/api/v1/namespaces/kube-system/secrets/vpc-admission-webhook-certs")
        cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["cert.pem"]))
        assert "vpc-admission-webhook-svc.kube-system.svc" in cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def test_second_run_changes_nothing(lab):
    before = lab.writes(["old-119", "cn-old"])
    rc, parsed, raw = install(lab, ["old-119", "cn-old"])
    assert rc == 0, raw
    assert all(s["changed"] == 0 for s in parsed["stats"].values())
    assert lab.writes(["old-119", "cn-old"]) == before


def test_drift_is_patched_not_replaced(lab):
    api = lab.admin_api("old-119")
    kube.request(api, "PATCH", f"{KS}/vpc-admission-webhook-deployment",
                 body={"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": None}}},
                 content_type="application/merge-patch+json")
    uid = lab.get("old-119", f"{KS}/vpc-admission-webhook-deployment")["metadata"]["uid"]
    rc, parsed, raw = install(lab, ["old-119"])
    assert rc == 0, raw
    actions = {o["object"]: o["action"] for o in task_results(parsed, DEPLOY)["old-119"]["objects"]}
    assert actions["Deployment kube-system/vpc-admission-webhook-deployment"] == "patched"
    assert list(actions.values()).count("patched") == 1
    after = lab.get("old-119", f"{KS}/vpc-admission-webhook-deployment")
    assert after["metadata"]["uid"] == uid
    assert after["spec"]["strategy"]["type"] == "Recreate"


def test_install_then_remove_leaves_only_the_kube_proxy_binding(lab):
    before = snapshot(lab, "cn-old")
    rc, _parsed, raw = lab.run_playbook("eksops.windows.legacy_remove", "-l", "cn-old")
    assert rc == 0, raw
    after = snapshot(lab, "cn-old")
    gone = {name for (_path, name) in set(before) - set(after)}
    assert gone == {"vpc-admission-webhook-deployment", "vpc-resource-controller",
                    "vpc-admission-webhook-svc", "vpc-admission-webhook-certs",
                    "vpc-admission-webhook-cfg"}
    assert (CRB, "eks:kube-proxy-windows") in after  # Windows kube-proxy needs it either way
    assert ("/api/v1/namespaces/kube-system/configmaps", "amazon-vpc-cni") in after


def test_migration_moves_qualifying_clusters_and_leaves_the_others(lab):
    before_old = snapshot(lab, "still-old")
    rc, parsed, _raw = lab.run_playbook("eksops.windows.migrate_to_control_plane",
                                        "-l", "migrate-me,still-old")
    assert rc != 0  # still-old is refused, by design
    assert "keeps legacy Windows support" in task_results(
        parsed, "Leave clusters that do not qualify yet as they are")["still-old"]["msg"]
    assert snapshot(lab, "still-old") == before_old
    names = {i["metadata"]["name"] for i in lab.get("migrate-me", KS)["items"]}
    assert not names & {"vpc-resource-controller", "vpc-admission-webhook"}
    cm = lab.get("migrate-me", "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni")
    assert cm["data"]["enable-windows-ipam"] == "true"
    assert parsed["stats"]["migrate-me"]["failures"] == 0
