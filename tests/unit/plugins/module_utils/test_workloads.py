import os

import pytest
import yaml

from ansible_collections.eksops.windows.plugins.module_utils import _workloads as workloads
from ansible_collections.eksops.windows.plugins.module_utils._errors import EksOpsError, KubeError
from ansible_collections.eksops.windows.plugins.module_utils._kube import Kube
from fakes import FakeApiServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))


def workload(kind="Deployment", namespace="shop", name="web", pod_spec=None, version="41"):
    return {"kind": kind,
            "metadata": {"namespace": namespace, "name": name, "resourceVersion": version},
            "spec": {"template": {"spec": pod_spec if pod_spec is not None else
                                  {"containers": [{"name": "c", "image": "i"}]}}}}


def affinity(*terms):
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": list(t)} for t in terms]}}}


def os_in(*values, key="kubernetes.io/os"):
    return {"key": key, "operator": "In", "values": list(values)}


# --- how a pod template selects its OS ----------------------------------------------------

@pytest.mark.parametrize("pod_spec, expected", [
    ({}, {"os": None, "via": None}),
    ({"nodeSelector": {"disktype": "ssd"}}, {"os": None, "via": None}),
    ({"nodeSelector": {"kubernetes.io/os": "linux"}}, {"os": "linux", "via": "nodeSelector"}),
    ({"nodeSelector": {"beta.kubernetes.io/os": "windows"}}, {"os": "windows", "via": "nodeSelector"}),
    ({"affinity": affinity([os_in("windows")])}, {"os": "windows", "via": "affinity"}),
    ({"affinity": affinity([os_in("linux", key="beta.kubernetes.io/os")])},
     {"os": "linux", "via": "affinity"}),
    # one term without an OS restriction: the pod can go anywhere
    ({"affinity": affinity([os_in("windows")], [{"key": "zone", "operator": "In", "values": ["a"]}])},
     {"os": None, "via": None}),
    ({"affinity": affinity([os_in("windows")], [os_in("linux")])},
     {"os": ["linux", "windows"], "via": "affinity"}),
    # NotIn does not pin an OS
    ({"affinity": affinity([{"key": "kubernetes.io/os", "operator": "NotIn", "values": ["windows"]}])},
     {"os": None, "via": None}),
    # the nodeSelector wins over affinity
    ({"nodeSelector": {"kubernetes.io/os": "linux"}, "affinity": affinity([os_in("windows")])},
     {"os": "linux", "via": "nodeSelector"}),
])
def test_os_constraint(pod_spec, expected):
    assert workloads.os_constraint(pod_spec) == expected
    assert workloads.lacks_os_selector(workload(pod_spec=pod_spec)) is (expected["via"] is None)


def test_pod_spec_of_pod_and_template():
    assert workloads.pod_spec_of({"kind": "Pod", "spec": {"a": 1}}) == {"a": 1}
    assert workloads.pod_spec_of({"kind": "Deployment", "spec": {}}) == {}
    assert workloads.pod_spec_of(workload(pod_spec={"b": 2})) == {"b": 2}


def test_affinity_only_windows():
    assert workloads.affinity_only_windows(workload(pod_spec={"affinity": affinity([os_in("windows")])}))
    assert not workloads.affinity_only_windows(
        workload(pod_spec={"nodeSelector": {"kubernetes.io/os": "windows"}}))
    assert not workloads.affinity_only_windows(workload(pod_spec={"affinity": affinity([os_in("linux")])}))
    assert not workloads.affinity_only_windows(
        workload(pod_spec={"affinity": affinity([os_in("windows", "linux")])}))


# --- nodes ---------------------------------------------------------------------------------

def node(labels):
    return {"kind": "Node", "metadata": {"name": "n", "labels": labels}}


def test_count_nodes_and_mixed():
    counts = workloads.count_nodes([
        node({"kubernetes.io/os": "linux"}),
        node({"kubernetes.io/os": "linux", "eks.amazonaws.com/compute-type": "fargate"}),
        node({"beta.kubernetes.io/os": "windows"}),
        node({}),
    ])
    assert counts == {"linux": 1, "fargate": 1, "windows": 1, "unknown": 1}
    assert workloads.is_mixed(counts)
    assert workloads.count_nodes([]) == {"linux": 0, "windows": 0}
    assert not workloads.is_mixed({"linux": 3, "windows": 0})
    assert not workloads.is_mixed({"linux": 0, "windows": 2})


@pytest.mark.parametrize("labels, linux, windows", [
    ({"kubernetes.io/os": "linux"}, True, False),
    ({"beta.kubernetes.io/os": "linux"}, True, False),  # old kubelets label only the beta key
    ({"kubernetes.io/os": "linux", "eks.amazonaws.com/compute-type": "fargate"}, False, False),
    ({"kubernetes.io/os": "windows"}, False, True),
    ({"beta.kubernetes.io/os": "windows"}, False, True),
    ({}, False, False),
])
def test_linux_node_excludes_fargate_and_reads_the_beta_label(labels, linux, windows):
    assert workloads.is_linux_node(node(labels)) is linux
    assert workloads.is_windows_node(node(labels)) is windows


@pytest.mark.parametrize("spec, windows", [
    ({"nodeName": "win-1"}, True),
    ({"nodeName": "lin-1", "nodeSelector": {"kubernetes.io/os": "windows"}}, False),  # the node wins
    ({"nodeSelector": {"kubernetes.io/os": "windows"}}, True),
    ({"nodeSelector": {"beta.kubernetes.io/os": "windows"}}, True),
    ({"os": {"name": "windows"}}, True),
    ({"affinity": affinity([os_in("windows")])}, True),
    ({"nodeSelector": {"kubernetes.io/os": "linux"}}, False),
    ({}, False),
])
def test_windows_pod_is_one_on_a_windows_node_or_one_that_asks_for_windows(spec, windows):
    assert workloads.is_windows_pod({"kind": "Pod", "spec": spec}, {"win-1"}) is windows


# --- scope ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (None, []),
    ([], []),
    ("", []),
    ("shop/*", ["shop/*"]),
    ("shop/*, billing/api ,", ["shop/*", "billing/api"]),
    ([" shop/* ", "", "billing/api"], ["shop/*", "billing/api"]),
    ([""], []),
])
def test_clean_list(value, expected):
    assert workloads.clean_list(value) == expected


@pytest.mark.parametrize("namespace, namespaces, exclude, expected", [
    ("shop", [], [], True),
    ("shop", ["shop"], [], True),
    ("billing", ["shop"], [], False),
    ("team-a", ["team-*"], [], True),
    ("kube-system", [], ["kube-*"], False),
    ("shop", ["*"], ["shop"], False),
    ("Shop", ["shop"], [], False),   # namespaces are case-sensitive
])
def test_namespace_in_scope(namespace, namespaces, exclude, expected):
    assert workloads.namespace_in_scope(namespace, namespaces, exclude) is expected


# --- the allow list ------------------------------------------------------------------------

@pytest.mark.parametrize("patterns, obj, expected", [
    (["shop/*"], workload(), "shop/*"),
    (["shop/*"], workload(namespace="billing"), None),
    (["billing/*", "shop/w*"], workload(), "shop/w*"),
    (["Deployment/shop/web"], workload(), "Deployment/shop/web"),
    (["deployment/shop/web"], workload(), "deployment/shop/web"),      # kinds ignore case
    (["DaemonSet/shop/*"], workload(), None),
    (["DaemonSet/shop/*"], workload(kind="DaemonSet"), "DaemonSet/shop/*"),
    (["*Set/*/*"], workload(kind="StatefulSet", namespace="x"), "*Set/*/*"),
    (["*/*"], workload(namespace="anything", name="at-all"), "*/*"),
    (["shop/Web"], workload(), None),                                   # names are case-sensitive
    (["shop/web?"], workload(name="web1"), "shop/web?"),
    ([], workload(), None),
])
def test_allowed_by(patterns, obj, expected):
    assert workloads.allowed_by(obj, workloads.parse_allow_list(patterns)) == expected


@pytest.mark.parametrize("pattern, words", [
    ("shop", "is not 'namespace/name' or 'Kind/namespace/name'"),
    ("*", "'*/*' for everything"),
    ("a/b/c/d", "is not 'namespace/name'"),
    ("shop/", "has an empty part"),
    ("/web", "has an empty part"),
    ("Pod/shop/web", "names kind 'Pod'; the kinds are Deployment, StatefulSet, DaemonSet"),
])
def test_bad_allow_patterns_say_what_is_wrong(pattern, words):
    with pytest.raises(workloads.AllowListError) as caught:
        workloads.parse_allow_list(["shop/*", pattern])
    assert words in str(caught.value)
    assert repr(pattern) in str(caught.value)


# --- the fix -------------------------------------------------------------------------------

def test_fix_patch_adds_only_the_os_key_and_pins_the_version():
    obj = workload(pod_spec={"nodeSelector": {"disktype": "ssd"}, "containers": []}, version="77")
    assert workloads.fix_patch(obj) == {
        "metadata": {"resourceVersion": "77"},
        "spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}}}
    # no arch: arm64 Linux nodes would be lost to a workload with a multi-arch image
    assert "kubernetes.io/arch" not in workloads.FIX_SELECTOR
    assert workloads.FIX_SELECTOR == {"kubernetes.io/os": workloads.LINUX_SELECTOR["kubernetes.io/os"]}


def test_fix_patch_without_resource_version():
    obj = workload()
    del obj["metadata"]["resourceVersion"]
    assert "metadata" not in workloads.fix_patch(obj)


def test_selector_diff_keeps_other_keys():
    obj = workload(pod_spec={"nodeSelector": {"disktype": "ssd"}})
    diff = workloads.selector_diff("Deployment/shop/api", obj)
    assert diff == {"before_header": "Deployment/shop/api", "after_header": "Deployment/shop/api",
                    "before": {"nodeSelector": {"disktype": "ssd"}},
                    "after": {"nodeSelector": {"disktype": "ssd", "kubernetes.io/os": "linux"}}}
    # the object itself is not modified
    assert obj["spec"]["template"]["spec"]["nodeSelector"] == {"disktype": "ssd"}


def test_selector_diff_from_the_servers_answer():
    before = workload()
    after = workload(pod_spec={"nodeSelector": {"kubernetes.io/os": "linux"}})
    assert workloads.selector_diff("r", before, after)["after"] == {
        "nodeSelector": {"kubernetes.io/os": "linux"}}
    assert workloads.selector_diff("r", before, after)["before"] == {"nodeSelector": {}}


def test_assess_actions():
    rules = workloads.parse_allow_list(["shop/*"])
    entry = workloads.assess(workload(), rules, will_write=False)
    assert entry == {"kind": "Deployment", "namespace": "shop", "name": "web",
                     "ref": "Deployment/shop/web", "os": None, "via": None,
                     "action": "would_fix", "allowed_by": "shop/*"}
    assert workloads.assess(workload(), rules, will_write=True)["action"] == "fixed"
    assert workloads.assess(workload(namespace="billing"), rules, True)["action"] == "not_allowed"
    assert workloads.assess(workload(), [], False)["action"] == "not_allowed"
    linux = workload(pod_spec={"nodeSelector": {"kubernetes.io/os": "linux"}})
    assert workloads.assess(linux, rules, True)["action"] == "none"
    pinned = workload(pod_spec={"affinity": affinity([os_in("windows")])})
    entry = workloads.assess(pinned, rules, True)
    assert (entry["action"], entry["os"], entry["via"]) == ("none", "windows", "affinity")


def test_resource_name():
    assert workloads.resource_name("DaemonSet") == "daemonsets.apps"


# --- one place for the selectors -----------------------------------------------------------

def test_windows_sample_role_uses_the_section_8_selector():
    with open(os.path.join(ROOT, "roles", "windows_sample", "vars", "main.yml"),
              encoding="utf-8") as handle:
        role_vars = yaml.safe_load(handle)
    assert role_vars["windows_sample_node_selector"] == workloads.WINDOWS_SELECTOR


# --- the patch and its conflicts (the API answers are scripted) ---------------------------

def fake(*objects):
    server = FakeApiServer(*objects)
    return server, Kube(server, "EKS cluster 'c' (fake)", sleep=lambda s: None)


PATH = "/apis/apps/v1/namespaces/shop/deployments/web"


def test_patch_merges_the_os_key_with_the_version_it_was_decided_on():
    server, kube = fake(workload(pod_spec={"nodeSelector": {"disktype": "ssd"}}))
    current = server.find("Deployment", "web", "shop")
    before, after = workloads.add_linux_selector(kube, current)
    assert before is current and after["kind"] == "Deployment"
    assert server.requests == [("PATCH", PATH)]
    assert workloads.node_selector_of(after) == {"disktype": "ssd", "kubernetes.io/os": "linux"}


def test_conflict_rereads_and_patches_the_fresh_version():
    server, kube = fake(workload())
    stale = server.find("Deployment", "web", "shop")
    server.put(dict(stale, metadata=dict(stale["metadata"], labels={"changed": "yes"})))
    before, after = workloads.add_linux_selector(kube, stale)
    assert server.requests == [("PATCH", PATH), ("GET", PATH), ("PATCH", PATH)]
    assert before["metadata"]["labels"] == {"changed": "yes"} and before["kind"] == "Deployment"
    assert after["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}


def test_conflict_with_a_selector_added_meanwhile_writes_nothing():
    server, kube = fake(workload())
    stale = server.find("Deployment", "web", "shop")
    server.put(workload(pod_spec={"nodeSelector": {"kubernetes.io/os": "windows"}}))
    before, after = workloads.add_linux_selector(kube, stale)
    assert [m for m, _p in server.requests] == ["PATCH", "GET"]
    assert after is None
    assert workloads.os_constraint(workloads.pod_spec_of(before))["os"] == "windows"


def test_conflict_with_the_workload_gone():
    server, kube = fake()
    assert workloads.add_linux_selector(kube, workload())[1] is None
    assert server.requests == [("PATCH", PATH)]


def test_endless_conflicts_fail_with_advice():
    server, kube = fake(workload())
    server.fail("PATCH", PATH, 409, times=3)
    with pytest.raises(EksOpsError) as caught:
        workloads.add_linux_selector(kube, server.find("Deployment", "web", "shop"), attempts=3)
    assert "Deployment shop/web changed under us 3 times" in caught.value.msg
    assert "run again" in caught.value.msg


def test_list_workloads_names_the_permission():
    server, kube = fake(workload(), workload(kind="DaemonSet", name="d", namespace="other"))
    found = workloads.list_workloads(kube, "shop", kinds=("Deployment", "DaemonSet"))
    assert [(w["kind"], w["metadata"]["name"]) for w in found] == [("Deployment", "web")]
    assert [p for _m, p in server.requests] == ["/apis/apps/v1/namespaces/shop/deployments",
                                                "/apis/apps/v1/namespaces/shop/daemonsets"]
    server.fail("GET", "/apis/apps/v1/statefulsets", 403)
    with pytest.raises(KubeError, match="needs RBAC 'list' on statefulsets.apps cluster-wide"):
        workloads.list_workloads(kube, None, kinds=("StatefulSet",))
