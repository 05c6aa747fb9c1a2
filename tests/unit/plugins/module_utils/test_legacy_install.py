import pytest
from test_webhook_cert import CA_DATA, FakeClock, SigningApiServer

from ansible_collections.eksops.windows.plugins.module_utils import (
    _legacy_install as legacy_install,
    _procedure as procedure,
    _reads as reads,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import (
    BlockedError,
    InputError,
    StepError,
)
from fakes import FakeClients, node


@pytest.mark.parametrize("region, registry", [
    ("us-west-2", "602401143452.dkr.ecr.us-west-2.amazonaws.com"),
    ("af-south-1", "877085696533.dkr.ecr.af-south-1.amazonaws.com"),
    ("cn-north-1", "918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn"),
    ("cn-northwest-1", "961992271922.dkr.ecr.cn-northwest-1.amazonaws.com.cn"),
    ("us-gov-west-1", "013241004608.dkr.ecr.us-gov-west-1.amazonaws.com"),
])
def test_ecr_registry(region, registry):
    assert procedure.ecr_registry(region) == registry


def by_kind_name(objects):
    return dict(((o["kind"], o["metadata"]["name"]), o) for o in objects)


def test_manifests_follow_the_seed_with_current_apis():
    objects = by_kind_name(legacy_install.manifests("cn-north-1", "Q0E="))
    webhook = objects[("Deployment", "vpc-admission-webhook-deployment")]
    pod = webhook["spec"]["template"]["spec"]
    assert webhook["spec"]["strategy"] == {"type": "Recreate"}
    assert pod["hostNetwork"] is True
    assert pod["containers"][0]["image"] == \
        "918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn/eks/vpc-admission-webhook:v0.2.7"
    assert pod["volumes"][0]["secret"]["secretName"] == "vpc-admission-webhook-certs"
    mwc = objects[("MutatingWebhookConfiguration", "vpc-admission-webhook-cfg")]
    assert mwc["apiVersion"] == "admissionregistration.k8s.io/v1"
    hook = mwc["webhooks"][0]
    assert hook["sideEffects"] == "None" and hook["admissionReviewVersions"]
    assert hook["failurePolicy"] == "Ignore"
    assert hook["clientConfig"]["caBundle"] == "Q0E="
    assert hook["clientConfig"]["service"] == {
        "name": "vpc-admission-webhook-svc", "namespace": "kube-system", "path": "/mutate"}
    proxy = objects[("ClusterRoleBinding", "eks:kube-proxy-windows")]
    assert proxy["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert proxy["roleRef"]["name"] == "system:node-proxier"
    assert proxy["subjects"] == [{"kind": "Group", "name": "eks:kube-proxy-windows",
                                  "apiGroup": "rbac.authorization.k8s.io"}]
    controller = objects[("Deployment", "vpc-resource-controller")]
    assert controller["spec"]["template"]["spec"]["nodeSelector"] == {
        "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}


def test_eksctl_flavour_names():
    objects = by_kind_name(legacy_install.manifests("us-west-2", "Q0E=", flavour="eksctl"))
    assert ("Deployment", "vpc-admission-webhook") in objects
    assert ("Service", "vpc-admission-webhook") in objects


def test_contains_ignores_server_defaults_but_not_differences():
    desired = {"spec": {"replicas": 1, "template": {"spec": {"containers": [{"image": "a"}]}}}}
    actual = {"spec": {"replicas": 1, "progressDeadlineSeconds": 600, "template": {"spec": {
        "containers": [{"image": "a", "imagePullPolicy": "Always"}], "dnsPolicy": "x"}}}}
    assert legacy_install.contains(actual, desired)
    actual["spec"]["template"]["spec"]["containers"][0]["image"] = "b"
    assert not legacy_install.contains(actual, desired)
    assert not legacy_install.contains({"a": [1, 2]}, {"a": [1]})


# --- the install steps on a fake API server (with test_webhook_cert's fake signer) -----------

OLD = {"version": "1.19", "platform_version": "eks.5", "ca_data": CA_DATA}
OBJECT_COUNT = len(legacy_install.manifests("us-west-2", CA_DATA))


def cluster(*extra, linux=1, signer="sign"):
    return SigningApiServer(*([node("lin-%d" % i) for i in range(linux)] + list(extra)), signer=signer)


def install(server, check_mode=False, **kwargs):
    clients = FakeClients(server, **OLD)
    kwargs.setdefault("clock", FakeClock())
    return clients, legacy_install.converge(reads.ClusterReads(clients), check_mode, **kwargs)


def test_install_creates_every_object_and_the_certificate_in_one_call():
    server = cluster()
    _clients, (changed, result) = install(server)
    assert changed is True
    assert [o["action"] for o in result["objects"]] == ["created"] * OBJECT_COUNT
    assert result["preflight"]["allowed"] is True
    assert result["webhook_service"] == "vpc-admission-webhook-svc"
    for manifest in legacy_install.manifests("us-west-2", CA_DATA):
        meta = manifest["metadata"]
        assert server.find(manifest["kind"], meta["name"], meta.get("namespace")) is not None
    cert = result["webhook_certificate"]
    assert cert["changed"] is True and cert["issued"] is True
    assert cert["renewal_reason"] == "there is no certificate"
    assert cert["not_after"] and cert["certificate"]["serves"] == ["script"]
    assert server.find("Secret", "vpc-admission-webhook-certs", "kube-system") is not None
    assert [r for r in server.requests if r == ("GET", "/api/v1/nodes")] == [("GET", "/api/v1/nodes")]


def test_second_run_writes_nothing():
    server = cluster()
    install(server)
    server.requests.clear()
    _clients, (changed, result) = install(server)
    assert changed is False
    assert {o["action"] for o in result["objects"]} == {"none"}
    assert result["webhook_certificate"]["changed"] is False
    assert server.writes == []


def test_check_mode_writes_nothing():
    server = cluster()
    clients, (changed, result) = install(server, check_mode=True)
    assert changed is True
    assert {o["action"] for o in result["objects"]} == {"created"}
    assert result["webhook_certificate"]["changed"] is True
    assert result["webhook_certificate"]["issued"] is False
    assert server.writes == [] and clients.secrets == []


def test_drift_is_merge_patched_not_replaced_and_check_mode_only_reports_it():
    server = cluster()
    install(server)
    webhook = server.find("Deployment", "vpc-admission-webhook-deployment", "kube-system")
    webhook["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    uid = webhook["metadata"]["uid"]
    for check_mode in (True, False):
        server.requests.clear()
        _clients, (changed, result) = install(server, check_mode=check_mode)
        actions = dict((o["object"], o["action"]) for o in result["objects"])
        assert changed is True
        assert actions["Deployment kube-system/vpc-admission-webhook-deployment"] == "patched"
        assert list(actions.values()).count("patched") == 1
        if check_mode:
            assert server.writes == []
    assert server.writes == [
        ("PATCH", "/apis/apps/v1/namespaces/kube-system/deployments/vpc-admission-webhook-deployment")]
    after = server.find("Deployment", "vpc-admission-webhook-deployment", "kube-system")
    assert after["spec"]["strategy"] == {"type": "Recreate"} and after["metadata"]["uid"] == uid


def test_certificate_false_leaves_the_certificate_alone():
    server = cluster()
    _clients, (_changed, result) = install(server, certificate=False)
    assert "webhook_certificate" not in result
    assert server.find("Secret", "vpc-admission-webhook-certs", "kube-system") is None
    assert not [w for w in server.writes if "certificatesigningrequests" in w[1]]


@pytest.mark.parametrize("renew_before", [-1, 365])
def test_renew_before_out_of_range_is_refused_before_any_request(renew_before):
    for check_mode in (True, False):
        server = cluster()
        with pytest.raises(InputError) as refused:
            install(server, check_mode=check_mode, renew_before=renew_before)
        assert refused.value.msg.startswith("eks_windows_legacy on EKS cluster ")
        assert "renew_before is %d; give 0 to 364 days" % renew_before in refused.value.msg
        assert refused.value.details["changed"] is False
        assert server.requests == [] and server.writes == []


def test_the_eksctl_flavour_issues_for_its_own_service():
    server = cluster()
    _clients, (_changed, result) = install(server, flavour="eksctl")
    assert result["webhook_certificate"]["service_name"] == "vpc-admission-webhook"
    assert result["webhook_certificate"]["csr"]["name"] == "vpc-admission-webhook.kube-system"


@pytest.mark.parametrize("case,blocker", [
    ("qualifies", "control_plane_possible"),
    ("no_linux", "legacy_needs_linux_node"),
    ("ipv6", "ipv6_cluster"),
])
def test_the_legacy_gate_refuses_before_any_write_and_force_goes_past(case, blocker):
    overrides = dict(OLD)
    if case == "qualifies":
        overrides.update(version="1.29", platform_version="eks.5")
    if case == "ipv6":
        overrides["ip_family"] = "ipv6"
    for check_mode in (True, False):
        server = cluster(linux=0 if case == "no_linux" else 1)
        clients = FakeClients(server, **overrides)
        with pytest.raises(BlockedError) as refused:
            legacy_install.converge(reads.ClusterReads(clients), check_mode, clock=FakeClock())
        assert blocker in refused.value.details["preflight"]["blocker_ids"]
        assert server.writes == []
    server = cluster(linux=0 if case == "no_linux" else 1)
    clients = FakeClients(server, **overrides)
    changed, result = legacy_install.converge(reads.ClusterReads(clients), False, force=True,
                                              clock=FakeClock())
    assert changed is True and result["preflight"]["forced"] is True
    assert "force=true" in clients.warnings[0]


def test_a_certificate_failure_after_the_objects_were_created_reports_them():
    server = cluster(signer="fail")
    with pytest.raises(StepError) as failed:
        install(server)
    error = failed.value
    assert error.details["changed"] is True
    assert [o["action"] for o in error.details["objects"]] == ["created"] * OBJECT_COUNT
    assert "the signer refused CSR" in error.msg and "already created or patched" in error.msg
    assert server.find("Secret", "vpc-admission-webhook-certs", "kube-system") is None


def test_a_certificate_failure_on_an_installed_cluster_is_not_a_change():
    server = cluster()
    install(server, certificate=False)
    server.signer = "fail"
    with pytest.raises(Exception) as failed:
        install(server)
    assert not isinstance(failed.value, StepError)
    assert failed.value.details["changed"] is False


def test_an_object_write_failure_after_others_were_created_reports_them():
    server = cluster()
    server.fail("POST", "/apis/apps/v1/namespaces/kube-system/deployments", 403)
    with pytest.raises(StepError) as failed:
        install(server)
    assert failed.value.details["changed"] is True
    assert [o["object"] for o in failed.value.details["objects"]] == [
        "ServiceAccount kube-system/vpc-resource-controller", "ClusterRole vpc-resource-controller",
        "ClusterRoleBinding vpc-resource-controller"]
    assert "forbidden (403)" in failed.value.msg


def test_a_failure_in_check_mode_is_not_reported_as_a_change():
    server = cluster()
    server.fail("GET", "/apis/apps/v1/namespaces/kube-system/deployments", 403)
    with pytest.raises(Exception) as failed:
        install(server, check_mode=True)
    assert not isinstance(failed.value, StepError)
    assert server.writes == []


def test_a_certificate_failure_in_check_mode_is_not_reported_as_a_change():
    server = cluster()
    server.fail("GET", "/secrets/vpc-admission-webhook-certs", 403)
    with pytest.raises(Exception) as failed:
        install(server, check_mode=True)
    assert not isinstance(failed.value, StepError)
    assert failed.value.details["changed"] is False
    assert len(failed.value.details["objects"]) == OBJECT_COUNT  # what it would have done
    assert server.writes == []
