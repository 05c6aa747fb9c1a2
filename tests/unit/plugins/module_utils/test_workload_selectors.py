"""The workload audit/fix step (module_utils/_workload_selectors.py) on a fake API server:
audit and check mode write nothing, fix writes only what fix_allowed covers, a second run
writes nothing."""

from ansible_collections.eksops.windows.plugins.module_utils import (
    _workload_selectors as workload_selectors,
    _workloads as workloads,
)
from ansible_collections.eksops.windows.plugins.module_utils._kube import Kube
from fakes import FakeApiServer, node, obj


def deployment(namespace, name, selector=None):
    spec = {"containers": [{"name": "c", "image": "i"}]}
    if selector:
        spec["nodeSelector"] = selector
    return obj("Deployment", name, namespace, spec={"template": {"spec": spec}})


def mixed_cluster():
    return FakeApiServer(node("lin-1"), node("win-1", "windows"),
                         deployment("shop", "web"), deployment("shop", "api"),
                         deployment("billing", "batch"),
                         deployment("shop", "ok", {"kubernetes.io/os": "linux"}))


def run(server, check_mode=False, state="fixed", allow=("shop/*",), only_mixed=True):
    kube = Kube(server, "fake", sleep=lambda s: None)
    rules = workloads.parse_allow_list(list(allow))
    return workload_selectors.converge(kube, check_mode, "c", state, [], [], list(workloads.WORKLOAD_KINDS),
                                       rules, only_mixed)


def actions(result):
    return {e["ref"]: e["action"] for e in result["workloads"]}


def test_check_mode_fixes_nothing_and_says_what_would_be_fixed():
    server = mixed_cluster()
    changed, result = run(server, check_mode=True)
    assert changed is True
    assert actions(result)["Deployment/shop/web"] == "would_fix"
    assert actions(result)["Deployment/billing/batch"] == "not_allowed"
    assert server.writes == []
    assert len(result["diffs"]) == 2


def test_fix_patches_only_what_is_allowed_and_a_second_run_writes_nothing():
    server = mixed_cluster()
    changed, result = run(server)
    assert changed is True and result["counts"]["fixed"] == 2
    assert sorted(p for _m, p in server.writes) == [
        "/apis/apps/v1/namespaces/shop/deployments/api", "/apis/apps/v1/namespaces/shop/deployments/web"]
    assert workloads.node_selector_of(server.find("Deployment", "batch", "billing")) == {}
    writes = len(server.writes)
    changed, result = run(server)
    assert changed is False and len(server.writes) == writes
    assert result["counts"]["not_allowed"] == 1


def test_audit_never_writes():
    server = mixed_cluster()
    changed, result = run(server, state="audited")
    assert changed is False and server.writes == []
    assert result["counts"]["without_selector"] == 3


def test_a_cluster_that_is_not_mixed_is_left_alone():
    server = FakeApiServer(node("lin-1"), deployment("shop", "web"))
    changed, result = run(server)
    assert changed is False and result["audited"] is False and server.writes == []
    assert "not a mixed cluster" in result["msg"]
