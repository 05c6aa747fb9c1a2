"""The assessment of issue 5 against the fleet scenario: every finding asserted one by one on
the cluster that has it, the clusters without it, and mode, state, prerequisites and preflight
compared with what the lab's API servers and moto really hold."""

import base64
import datetime
import os
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from eksopslab import kube
from eksopslab.testing import WRITE_VERBS, task_results

PLAYBOOK = os.path.join(os.path.dirname(__file__), "playbooks", "assess.yml")
CERT_PLAYBOOK = os.path.join(os.path.dirname(__file__), "playbooks", "webhook_cert.yml")
# read only (what a test changes, it puts back): test_fleet_report.py reads the same lab start
SHARED_SCENARIO = "fleet.yml"
CLUSTERS = ("fleet-ready", "fleet-nodes", "fleet-cni", "fleet-ipv6", "fleet-legacy-soon",
            "fleet-legacy-expired", "fleet-odd-platform", "fleet-today", "fleet-auto",
            "fleet-ipam-spelled", "fleet-cert-broken")
SECRET_REF = "Secret/kube-system/vpc-admission-webhook-certs"
SECRET_PATH = "/api/v1/namespaces/kube-system/secrets/vpc-admission-webhook-certs"
# Clusters as EKS runs them today (1.31, Linux and Windows prefix delegation, a managed Windows
# node group on Windows Server 2022, 100 Windows pods behind a LoadBalancer): no error finding.
TODAY = ("fleet-ready", "fleet-today")


# (cluster, finding id, severity, objects): every finding the fleet scenario was built to show.
EXPECTED = [
    ("fleet-nodes", "historic_unsupported_instance_type", "info", ["Node/fn-c4", "Node/fn-m6a"]),
    ("fleet-nodes", "windows_host_network", "error", ["DaemonSet/shop/win-agent"]),
    # 65 pods on fn-c4, a build before 10.0.17763.2746: the limit of that Service is 64
    ("fleet-nodes", "loadbalancer_windows_pods_over_limit", "error", ["Service/shop/web"]),
    ("fleet-nodes", "max_pods_exceeds_eni", "warning", ["Node/fn-maxpods"]),
    ("fleet-nodes", "workload_without_os_selector", "warning", ["Deployment/shop/cart"]),
    ("fleet-nodes", "windows_affinity_without_selector", "warning",
     ["Deployment/shop/iis-affinity"]),
    ("fleet-nodes", "windows_managed_node_group", "info", ["Nodegroup/win-ng"]),
    ("fleet-cni", "single_linux_node", "warning", ["Node/fc-lin-1"]),
    ("fleet-cni", "security_groups_for_pods", "warning", ["DaemonSet/kube-system/aws-node"]),
    ("fleet-cni", "custom_networking", "error", ["DaemonSet/kube-system/aws-node"]),
    ("fleet-cni", "linux_prefix_delegation", "info", ["DaemonSet/kube-system/aws-node"]),
    ("fleet-cni", "cni_addon_drift", "warning", ["Addon/vpc-cni"]),
    ("fleet-ipv6", "ipv6_cluster", "error", []),
    ("fleet-ipv6", "cni_helm_drift", "warning", ["ConfigMap/kube-system/amazon-vpc-cni"]),
    ("fleet-legacy-soon", "version_below_table", "warning", []),
    ("fleet-legacy-soon", "webhook_certificate_expiring", "warning",
     ["Secret/kube-system/vpc-admission-webhook-certs"]),
    ("fleet-legacy-soon", "legacy_support_present", "info", None),
    ("fleet-legacy-expired", "no_linux_node", "error", []),
    ("fleet-legacy-expired", "legacy_needs_linux_node", "error", []),
    ("fleet-legacy-expired", "cluster_role_missing", "error", None),
    ("fleet-legacy-expired", "webhook_certificate_expired", "error",
     ["Secret/kube-system/vpc-admission-webhook-certs"]),
    ("fleet-legacy-expired", "version_below_table", "warning", []),
    ("fleet-legacy-expired", "legacy_support_present", "info", None),
    ("fleet-odd-platform", "version_not_assessable", "warning", []),
    ("fleet-today", "linux_prefix_delegation", "info", ["DaemonSet/kube-system/aws-node"]),
    ("fleet-today", "windows_managed_node_group", "info", ["Nodegroup/win-2022"]),
    ("fleet-auto", "auto_or_hybrid_compute_only", "error", []),
    # issue 11, item 8: "TRUE" on fleet-ipam-spelled is no finding; "yes" is, and so is a webhook
    # Secret without key.pem (no Windows node there: a warning)
    ("fleet-cert-broken", "cni_setting_unparseable", "warning", ["ConfigMap/kube-system/amazon-vpc-cni"]),
    ("fleet-cert-broken", "webhook_certificate_key_missing", "error", [SECRET_REF]),
    ("fleet-cert-broken", "version_below_table", "warning", []),
    ("fleet-cert-broken", "legacy_support_present", "info", None),
]


def pods_of(lab, cluster, namespace, app):
    pods = lab.get(cluster, f"/api/v1/namespaces/{namespace}/pods")["items"]
    return [p for p in pods if p["metadata"].get("labels", {}).get("app") == app]


@pytest.fixture(scope="module", name="lab")
def fleet_lab(lab_pool):
    handle = lab_pool.get(SHARED_SCENARIO)
    # the controller manager creates the 65 Windows pods of shop/web in bursts
    deadline = time.monotonic() + 60
    while len(pods_of(handle, "fleet-nodes", "shop", "web")) < 65 or \
            len(pods_of(handle, "fleet-today", "web", "iis")) < 100:
        assert time.monotonic() < deadline, "the ReplicaSet controller made too few pods"
        time.sleep(0.5)
    return handle


@pytest.fixture(scope="module", name="assessed")
def fleet_assessment(lab):
    before, aws_before = {n: len(lab.requests(n)) for n in CLUSTERS}, len(lab.aws_calls())
    aws_writes_before = lab.aws_writes()
    rc, parsed, raw = lab.run_playbook(PLAYBOOK, check=True)
    assert rc == 0, raw
    results = task_results(parsed, "Assess the cluster")
    assert sorted(results) == sorted(CLUSTERS)
    aws = {"calls": lab.aws_calls()[aws_before:], "new_writes": lab.aws_writes()[len(aws_writes_before):]}
    return results, {n: lab.requests(n)[before[n]:] for n in CLUSTERS}, aws


def ids(result):
    return [f["id"] for f in result["findings"]]


@pytest.mark.parametrize("cluster,finding_id,severity,objects", EXPECTED,
                         ids=[f"{c}:{i}" for c, i, _s, _o in EXPECTED])
def test_every_finding_where_the_fleet_has_it(assessed, cluster, finding_id, severity, objects):
    results, _requests, _aws = assessed
    found = [f for f in results[cluster]["findings"] if f["id"] == finding_id]
    assert len(found) == 1, ids(results[cluster])
    assert found[0]["severity"] == severity
    assert found[0]["title"] and found[0]["detail"] and found[0]["remedy"]
    if objects is not None:
        assert found[0]["objects"] == objects
    # every finding says where its rule comes from
    assert found[0]["source"] and found[0]["edition"] in ("2021", "today", "upstream", "collection")


def test_clusters_of_today_have_no_error_finding(assessed):
    results, _requests, _aws = assessed
    for cluster in TODAY:
        errors = [f["id"] for f in results[cluster]["findings"] if f["severity"] == "error"]
        assert errors == [], cluster
        assert results[cluster]["finding_counts"]["error"] == 0, cluster
        assert results[cluster]["preflight"]["control_plane"]["allowed"] is True, cluster
    today = results["fleet-today"]
    assert today["mode"] == "control_plane" and today["state"]["windows_support"] == "enabled"
    # the 100 IIS pods are counted against 1024, the Windows Server 2022 node's limit
    assert "loadbalancer_windows_pods_over_limit" not in ids(today)
    assert "max_pods_exceeds_eni" not in ids(today)  # 110 pods: prefix delegation on Nitro


def test_the_pod_limit_of_a_service_follows_the_build_of_its_nodes(assessed):
    results, _requests, _aws = assessed
    found = [f for f in results["fleet-nodes"]["findings"] if f["id"] == "loadbalancer_windows_pods_over_limit"]
    assert "selects 65 Windows pods (limit 64, a pod on an older build)" in found[0]["detail"]
    historic = [f for f in results["fleet-nodes"]["findings"] if f["id"] == "historic_unsupported_instance_type"]
    assert historic[0]["changed"] == "2022-06" and "2021" in historic[0]["source"]


def test_no_finding_anywhere_else(assessed):
    """Each cluster shows exactly the findings listed for it (the ready one none at all)."""
    results, _requests, _aws = assessed
    for cluster in CLUSTERS:
        expected = sorted(i for c, i, _s, _o in EXPECTED if c == cluster)
        assert sorted(ids(results[cluster])) == expected, cluster
        counts = results[cluster]["finding_counts"]
        assert sum(counts.values()) == len(expected)
    assert results["fleet-ready"]["findings"] == []


def test_findings_come_errors_first(assessed):
    results, _requests, _aws = assessed
    order = {"error": 0, "warning": 1, "info": 2}
    for result in results.values():
        ranks = [order[f["severity"]] for f in result["findings"]]
        assert ranks == sorted(ranks)


def test_the_exception_and_the_compliant_workloads_are_not_flagged(assessed):
    results, _requests, _aws = assessed
    text = repr(results["fleet-nodes"]["findings"])
    assert "fn-m416" not in text  # m4.16xlarge is the exception, 30 addresses per ENI
    assert "Deployment/shop/api" not in text  # Linux selector
    assert "Deployment/shop/web" not in repr(
        [f for f in results["fleet-nodes"]["findings"] if f["id"] == "workload_without_os_selector"])


def test_mode_follows_the_version_table(assessed):
    results, _requests, _aws = assessed
    modes = {n: results[n]["mode"] for n in CLUSTERS}
    assert modes == {
        "fleet-ready": "control_plane", "fleet-nodes": "control_plane",
        "fleet-cni": "control_plane", "fleet-ipv6": "control_plane",
        "fleet-legacy-soon": "legacy", "fleet-legacy-expired": "legacy",
        "fleet-odd-platform": "not_assessable", "fleet-today": "control_plane",
        "fleet-auto": "control_plane", "fleet-ipam-spelled": "control_plane",
        "fleet-cert-broken": "legacy"}
    assert "eks.7" in results["fleet-legacy-soon"]["mode_reason"]
    assert "eks.custom" in results["fleet-odd-platform"]["mode_reason"]


def configmap_value(lab, cluster):
    for cm in lab.get(cluster, "/api/v1/namespaces/kube-system/configmaps")["items"]:
        if cm["metadata"]["name"] == "amazon-vpc-cni":
            return (cm.get("data") or {}).get("enable-windows-ipam")
    return None


def policy_attached(lab, cluster):
    info = lab.cluster(cluster)
    iam = lab.boto3_client("iam", info["region"])
    role = info["role_arn"].rsplit("/", 1)[1]
    try:
        attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    except iam.exceptions.NoSuchEntityException:
        return None
    return any(p["PolicyName"] == "AmazonEKSVPCResourceController" for p in attached)


def test_state_matches_the_clusters(lab, assessed):
    results, _requests, _aws = assessed
    for cluster in CLUSTERS:
        state = results[cluster]["state"]
        assert state["enable_windows_ipam"] == configmap_value(lab, cluster), cluster
        assert state["policy_attached"] == policy_attached(lab, cluster), cluster
        legacy_controller = [d for d in lab.get(cluster, "/apis/apps/v1/namespaces/kube-system/deployments")["items"]
                             if d["metadata"]["name"] == "vpc-resource-controller"]
        assert state["legacy"]["present"] == bool(legacy_controller), cluster
    supports = {n: results[n]["state"]["windows_support"] for n in CLUSTERS}
    assert supports == {
        "fleet-ready": "enabled", "fleet-nodes": "disabled", "fleet-cni": "enabled",
        "fleet-ipv6": "enabled", "fleet-legacy-soon": "legacy",
        "fleet-legacy-expired": "legacy", "fleet-odd-platform": "disabled",
        "fleet-today": "enabled", "fleet-auto": "disabled",
        # issue 11, item 8: "TRUE" is on, "yes" off, as the controller's strconv.ParseBool reads them
        "fleet-ipam-spelled": "enabled", "fleet-cert-broken": "legacy"}
    assert results["fleet-legacy-soon"]["state"]["legacy"]["flavours"] == ["script"]
    assert results["fleet-legacy-expired"]["state"]["legacy"]["flavours"] == ["eksctl"]
    assert "Deployment/kube-system/vpc-admission-webhook" in \
        results["fleet-legacy-expired"]["state"]["legacy"]["objects"]


def test_certificate_days_left_read_from_the_secret(lab, assessed):
    results, _requests, _aws = assessed
    now = datetime.datetime.now(datetime.timezone.utc)
    for cluster in ("fleet-legacy-soon", "fleet-legacy-expired"):
        secret = lab.get(cluster, "/api/v1/namespaces/kube-system/secrets/vpc-admission-webhook-certs")
        cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["cert.pem"]))
        not_after = cert.not_valid_after_utc
        reported = results[cluster]["state"]["webhook_certificate"]
        assert reported["not_after"] == not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert reported["days_left"] == int((not_after - now).total_seconds() // 86400)
        assert reported["expired"] == (not_after <= now)
        # the key never leaves the cluster
        assert secret["data"]["key.pem"] not in repr(results[cluster])
    assert results["fleet-ready"]["state"]["webhook_certificate"] is None


def test_prerequisites_and_preflight(assessed):
    results, _requests, _aws = assessed
    pre = {n: (results[n]["preflight"]["control_plane"]["allowed"],
               results[n]["preflight"]["legacy"]["allowed"]) for n in CLUSTERS}
    assert pre == {
        "fleet-ready": (True, False), "fleet-nodes": (True, False), "fleet-cni": (True, False),
        "fleet-ipv6": (False, False), "fleet-legacy-soon": (False, True),
        "fleet-legacy-expired": (False, False), "fleet-odd-platform": (False, False),
        "fleet-today": (True, False), "fleet-auto": (False, False),
        "fleet-ipam-spelled": (True, False), "fleet-cert-broken": (False, True)}
    auto = results["fleet-auto"]["preflight"]
    assert auto["control_plane"]["blocker_ids"] == ["auto_or_hybrid_compute_only"]
    assert "control_plane_possible" in auto["legacy"]["blocker_ids"]
    assert "auto_or_hybrid_compute_only" in auto["legacy"]["blocker_ids"]
    assert "EKS Auto Mode and EKS Hybrid Nodes" in auto["control_plane"]["blockers"][0]
    ipv6 = results["fleet-ipv6"]
    assert ipv6["prerequisites"]["linux_nodes"] == 0
    assert ipv6["prerequisites"]["fargate_coredns"] is True
    assert any("IPv6" in b for b in ipv6["preflight"]["control_plane"]["blockers"])
    expired = results["fleet-legacy-expired"]["preflight"]
    assert any("Linux node" in b for b in expired["legacy"]["blockers"])
    assert any("role" in b for b in expired["control_plane"]["blockers"])
    assert results["fleet-cni"]["prerequisites"]["linux_nodes"] == 1


def test_the_assessment_only_reads(assessed):
    _results, requests, aws = assessed
    for cluster, made in requests.items():
        assert made, cluster
        assert not [r for r in made if r[0] in WRITE_VERBS], (cluster, made)
    assert len([c for c in aws["calls"] if c[1] == "DescribeCluster"]) >= len(requests)
    assert aws["new_writes"] == [], aws["calls"]


def test_a_denied_aws_read_makes_it_incomplete_not_failed(lab):
    """The auditor may read EKS and EC2 but not IAM: the assessment goes on and says so."""
    rc, parsed, raw = lab.run_playbook(PLAYBOOK, "-e", "target=fleet-ready",
                                       env=lab.aws_env("auditor"))
    assert rc == 0, raw
    result = task_results(parsed, "Assess the cluster")["fleet-ready"]
    assert ids(result) == ["assessment_incomplete"]
    assert "iam:ListAttachedRolePolicies" in result["findings"][0]["detail"]
    assert "AccessDenied" in result["findings"][0]["detail"]
    assert result["state"]["policy_attached"] is None
    assert result["state"]["windows_support"] == "unknown"


def test_warning_days_moves_the_expiry_threshold(lab):
    rc, parsed, raw = lab.run_playbook(PLAYBOOK, "-e", "target=fleet-legacy-soon",
                                       "-e", "warning_days=5")
    assert rc == 0, raw
    result = task_results(parsed, "Assess the cluster")["fleet-legacy-soon"]
    assert "webhook_certificate_expiring" not in ids(result)
    rc, _parsed, raw = lab.run_playbook(PLAYBOOK, "-e", "target=fleet-legacy-soon",
                                        "-e", "warning_days=-1")
    assert rc != 0
    assert "webhook_certificate_warning_days must be 0 or more" in raw


# --- issue 11, item 8: the inputs read as the controller and vpc_webhook_cert read them ----------

def test_ipam_spelled_as_parse_bool_allows_is_enabled_and_an_unparseable_value_is_named(lab, assessed):
    results, _requests, _aws = assessed
    assert configmap_value(lab, "fleet-ipam-spelled") == "TRUE"
    assert results["fleet-ipam-spelled"]["findings"] == []
    assert results["fleet-ipam-spelled"]["state"]["enable_windows_ipam"] == "TRUE"
    assert configmap_value(lab, "fleet-cert-broken") == "yes"
    found = [f for f in results["fleet-cert-broken"]["findings"] if f["id"] == "cni_setting_unparseable"][0]
    assert 'enable-windows-ipam "yes"' in found["detail"] and "strconv.ParseBool" in found["detail"]
    assert "Run role enable" in found["remedy"] and "conditions.go" in found["source"]


def put_secret(lab, cluster, data):
    """Replace the webhook Secret of `cluster` by one with `data` ({key: bytes}); None deletes it."""
    from kubernetes.client.exceptions import ApiException  # pylint: disable=import-outside-toplevel

    api = lab.admin_api(cluster)
    try:
        try:
            kube.request(api, "DELETE", SECRET_PATH)
        except ApiException as e:
            if e.status != 404:
                raise
        if data is not None:
            kube.request(api, "POST", "/api/v1/namespaces/kube-system/secrets", body={
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": "vpc-admission-webhook-certs", "namespace": "kube-system"},
                "data": {k: base64.b64encode(v).decode() for k, v in data.items()}})
    finally:
        api.close()


def test_each_broken_webhook_secret_is_a_finding_as_vpc_webhook_cert_sees_it(lab, assessed):
    """The scenario's Secret has no key.pem; then a garbage cert.pem, a key that is not the
    certificate's, no Secret at all: each is its finding, with the renew_cert remedy, on that
    cluster only; the module vpc_webhook_cert reads the same Secret the same way."""
    results, _requests, _aws = assessed
    key_missing = [f for f in results["fleet-cert-broken"]["findings"] if f["id"] == "webhook_certificate_key_missing"]
    assert "key.pem is missing" in key_missing[0]["detail"]
    assert "Deployment/kube-system/vpc-admission-webhook-deployment" in key_missing[0]["detail"]
    assert results["fleet-cert-broken"]["state"]["webhook_certificate"]["days_left"] in (199, 200)
    secret_ids = {"webhook_certificate_secret_missing", "webhook_certificate_unreadable",
                  "webhook_certificate_key_missing", "webhook_certificate_key_mismatch"}
    for cluster in CLUSTERS:
        if cluster != "fleet-cert-broken":
            assert not secret_ids & set(ids(results[cluster])), cluster
    cert_pem = base64.b64decode(lab.get("fleet-cert-broken", SECRET_PATH)["data"]["cert.pem"])
    assert "key.pem" not in lab.get("fleet-cert-broken", SECRET_PATH)["data"]
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption())
    cases = [({"cert.pem": b"not a certificate", "key.pem": other_key}, "webhook_certificate_unreadable",
              "cert.pem is not a PEM certificate"),
             ({"cert.pem": cert_pem, "key.pem": other_key}, "webhook_certificate_key_mismatch",
              "key.pem does not match cert.pem"),
             (None, "webhook_certificate_secret_missing", "Secret kube-system/vpc-admission-webhook-certs does not exist")]
    try:
        for data, finding_id, words in cases:
            put_secret(lab, "fleet-cert-broken", data)
            rc, parsed, raw = lab.run_playbook(PLAYBOOK, "-e", "target=fleet-cert-broken,fleet-legacy-soon")
            assert rc == 0, raw
            found = task_results(parsed, "Assess the cluster")
            assert secret_ids & set(ids(found["fleet-cert-broken"])) == {finding_id}, ids(found["fleet-cert-broken"])
            finding = [f for f in found["fleet-cert-broken"]["findings"] if f["id"] == finding_id][0]
            assert finding["severity"] == "error" and words in finding["detail"], finding
            assert "playbook renew_cert" in finding["remedy"] and finding["objects"] == [SECRET_REF]
            assert not secret_ids & set(ids(found["fleet-legacy-soon"]))
            assert other_key.decode() not in raw  # no key material in any result
            # vpc_webhook_cert (check mode: nothing issued) renews for the same reason
            rc, parsed, raw = lab.run_playbook(CERT_PLAYBOOK, "-e", "target=fleet-cert-broken",
                                               "-e", "cert_state=present", check=True)
            assert rc == 0, raw
            reason = task_results(parsed, "Run vpc_webhook_cert")["fleet-cert-broken"]["renewal_reason"]
            assert reason == "there is no certificate" if data is None else reason in finding["detail"], reason
    finally:
        put_secret(lab, "fleet-cert-broken", {"cert.pem": cert_pem})  # as the scenario made it


def test_enable_writes_true_over_an_unparseable_value_and_nothing_over_true(lab):
    before = len(lab.requests("fleet-ipam-spelled"))
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "fleet-ipam-spelled", check=True)
    assert rc == 0, raw
    result = task_results(parsed, "Enable control-plane Windows support")["fleet-ipam-spelled"]
    assert result["configmap"]["action"] == "none" and result["changed"] is False, raw
    assert not [r for r in lab.requests("fleet-ipam-spelled")[before:] if r[0] in WRITE_VERBS]


# --- the preflight gate of the enable and legacy_install roles ---------------------------------

def test_enable_refuses_what_the_assessment_rejects_and_nothing_is_written(lab):
    """The module's gate refuses exactly what the assessment's verdict rejects (one function)."""
    hosts = ("fleet-ipv6", "fleet-legacy-expired", "fleet-cni", "fleet-auto")
    before = {n: len(lab.requests(n)) for n in hosts}
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", ",".join(hosts), check=True)
    assert rc != 0
    results = task_results(parsed, "Enable control-plane Windows support")
    assert "IPv6" in results["fleet-ipv6"]["msg"]
    assert "Windows nodes can run on neither" in results["fleet-auto"]["msg"]
    msg = results["fleet-legacy-expired"]["msg"]
    for words in ("below the minimum platform version eks.9", "cluster IAM role", "does not exist",
                  "no Linux node", "eksops.windows.legacy_install"):
        assert words in msg, msg
    # the ConfigMap says "true" by hand; the add-on that owns it says "false": the add-on's
    # configuration values are what would change (check mode: no UpdateAddon)
    assert results["fleet-cni"]["configmap"]["action"] == "via_addon", raw
    assert results["fleet-cni"]["owner"]["kind"] == "addon", raw
    for name, count in before.items():
        assert not [r for r in lab.requests(name)[count:] if r[0] in WRITE_VERBS]
    rc, assessed, raw = lab.run_playbook(PLAYBOOK, "-e", "target=" + ",".join(hosts))
    assert rc == 0, raw
    verdicts = task_results(assessed, "Assess the cluster")
    for name in hosts:
        gate = results[name].get("preflight") or {}
        assert verdicts[name]["preflight"]["control_plane"]["blocker_ids"] == gate.get("blocker_ids", []), name


def test_force_goes_past_the_gate_with_a_warning(lab):
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "fleet-ipv6",
                                       "-e", "enable_force=true", check=True)
    assert rc == 0, raw
    assert "FORCED past" in task_results(parsed, "Print the cluster's summary")["fleet-ipv6"]["msg"]
    assert parsed["global_custom_stats"]["eksops_windows_enable"]["fleet-ipv6"]["forced"] is True


def test_legacy_install_is_gated_too(lab):
    # the role's one module call enforces the legacy gate itself (no preflight role before it)
    rc, parsed, _raw = lab.run_playbook("eksops.windows.legacy_install", "-l",
                                        "fleet-ready,fleet-legacy-expired,fleet-legacy-soon",
                                        check=True)
    assert rc != 0
    results = task_results(
        parsed, "Deploy the legacy controller, webhook and kube-proxy binding, and the webhook certificate")
    assert "use role enable" in results["fleet-ready"]["msg"]
    assert "needs a Linux node" in results["fleet-legacy-expired"]["msg"]
    assert "control_plane_possible" in results["fleet-ready"]["preflight"]["blocker_ids"]
    assert not results["fleet-legacy-soon"].get("failed")
    assert results["fleet-legacy-soon"]["preflight"]["allowed"] is True
