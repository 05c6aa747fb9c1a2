import pytest

from ansible_collections.eksops.windows.plugins.module_utils import legacy_install, procedure


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
