import os

import pytest
import yaml

from ansible_collections.eksops.windows.plugins.module_utils import workloads

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
    assert counts == {"linux": 2, "windows": 1, "unknown": 1}
    assert workloads.is_mixed(counts)
    assert workloads.count_nodes([]) == {"linux": 0, "windows": 0}
    assert not workloads.is_mixed({"linux": 3, "windows": 0})
    assert not workloads.is_mixed({"linux": 0, "windows": 2})


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


def test_object_path_and_resource_name():
    assert workloads.object_path(workload(kind="StatefulSet", namespace="a", name="b")) == \
        "/apis/apps/v1/namespaces/a/statefulsets/b"
    assert workloads.resource_name("DaemonSet") == "daemonsets.apps"


# --- one place for the selectors -----------------------------------------------------------

def test_windows_sample_role_uses_the_section_8_selector():
    with open(os.path.join(ROOT, "roles", "windows_sample", "vars", "main.yml"),
              encoding="utf-8") as handle:
        role_vars = yaml.safe_load(handle)
    assert role_vars["windows_sample_node_selector"] == workloads.WINDOWS_SELECTOR


# --- the patch and its conflicts (the API answers are scripted) ---------------------------

class Failed(Exception):
    pass


class FakeModule:
    def fail_json(self, **kwargs):
        raise Failed(kwargs["msg"])


def conflict():
    from kubernetes.client.exceptions import ApiException
    return ApiException(status=409, reason="Conflict")


def scripted(monkeypatch, answers):
    """Replace the API call with a list of answers (objects to return or exceptions to raise);
    returns the calls made: (method, path, body, what)."""
    calls = []

    def fake_raw(module, what, api, method, path, body=None, missing_ok=False,
                 content_type="application/json", raise_statuses=()):
        calls.append((method, path, body, what, content_type, raise_statuses))
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(workloads, "raw", fake_raw)
    return calls


def test_patch_merges_the_os_key_with_the_version_it_was_decided_on(monkeypatch):
    obj = workload(pod_spec={"nodeSelector": {"disktype": "ssd"}}, version="5")
    answer = workload(pod_spec={"nodeSelector": {"disktype": "ssd", "kubernetes.io/os": "linux"}},
                      version="6")
    del answer["kind"]
    calls = scripted(monkeypatch, [answer])
    before, after = workloads.add_linux_selector(FakeModule(), None, obj)
    assert before is obj and after["kind"] == "Deployment"
    method, path, body, what, content_type, raise_statuses = calls[0]
    assert (method, content_type, raise_statuses) == ("PATCH", workloads.MERGE_PATCH, (409,))
    assert path == "/apis/apps/v1/namespaces/shop/deployments/web?fieldManager=eksops-windows"
    assert body["metadata"] == {"resourceVersion": "5"}
    assert "needs RBAC 'patch' on deployments.apps in namespace shop" in what


def test_conflict_rereads_and_patches_the_fresh_version(monkeypatch):
    fresh = workload(version="9")
    del fresh["kind"]
    calls = scripted(monkeypatch, [conflict(), fresh, workload(
        pod_spec={"nodeSelector": {"kubernetes.io/os": "linux"}}, version="10")])
    before, after = workloads.add_linux_selector(FakeModule(), None, workload(version="5"))
    assert [c[0] for c in calls] == ["PATCH", "GET", "PATCH"]
    assert calls[2][2]["metadata"] == {"resourceVersion": "9"}
    assert before["metadata"]["resourceVersion"] == "9" and before["kind"] == "Deployment"
    assert after["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}


def test_conflict_with_a_selector_added_meanwhile_writes_nothing(monkeypatch):
    windows = workload(pod_spec={"nodeSelector": {"kubernetes.io/os": "windows"}}, version="9")
    calls = scripted(monkeypatch, [conflict(), windows])
    before, after = workloads.add_linux_selector(FakeModule(), None, workload(version="5"))
    assert [c[0] for c in calls] == ["PATCH", "GET"]
    assert after is None
    assert workloads.os_constraint(workloads.pod_spec_of(before))["os"] == "windows"


def test_conflict_with_the_workload_gone(monkeypatch):
    scripted(monkeypatch, [conflict(), None])
    assert workloads.add_linux_selector(FakeModule(), None, workload())[1] is None


def test_endless_conflicts_fail_with_advice(monkeypatch):
    answers = []
    for dummy in range(3):
        answers.extend([conflict(), workload()])
    scripted(monkeypatch, answers)
    with pytest.raises(Failed) as caught:
        workloads.add_linux_selector(FakeModule(), None, workload(), attempts=3)
    assert "Deployment shop/web changed under us 3 times" in str(caught.value)
    assert "run again" in str(caught.value)


def test_list_workloads_names_the_permission(monkeypatch):
    calls = scripted(monkeypatch, [{"items": [{"metadata": {"name": "a"}}]}, {"items": []}])
    found = workloads.list_workloads(FakeModule(), None, "shop", kinds=("Deployment", "DaemonSet"))
    assert found == [{"metadata": {"name": "a"}, "kind": "Deployment"}]
    assert [c[1] for c in calls] == ["/apis/apps/v1/namespaces/shop/deployments",
                                     "/apis/apps/v1/namespaces/shop/daemonsets"]
    assert "needs RBAC 'list' on deployments.apps in shop" in calls[0][3]
    calls = scripted(monkeypatch, [{"items": []}])
    workloads.list_workloads(FakeModule(), None, None, kinds=("StatefulSet",))
    assert calls[0][1] == "/apis/apps/v1/statefulsets"
    assert "needs RBAC 'list' on statefulsets.apps cluster-wide" in calls[0][3]
