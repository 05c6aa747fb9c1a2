"""Why has this Windows pod no IP (_pod_network.py): each cause of the checklist on a cluster
that has it and only it, in the checklist's order, through the real ClusterReads over a fake API
server and Stubbers."""

import pytest

from ansible_collections.eksops.windows.plugins.module_utils import (
    _pod_network as pod_network,
    _procedure as procedure,
)
from ansible_collections.eksops.windows.plugins.module_utils._assessment import finding
from ansible_collections.eksops.windows.plugins.module_utils._reads import ClusterReads
from fakes import FakeApiServer, FakeClients, node, obj

IPV4 = procedure.IPV4_RESOURCE
INSTANCE = "i-0123456789abcdef0"


def windows_node(name="win-1", capacity=9, instance=INSTANCE):
    found = node(name, "windows")
    found["spec"] = {"providerID": "aws:///us-west-2a/%s" % instance}
    if capacity is not None:
        found["status"]["capacity"][IPV4] = str(capacity)
        found["status"]["allocatable"] = dict(found["status"]["capacity"])
    return found


def pod(name, node_name=None, phase="Pending", request=True, selector="nodeSelector", annotation=None):
    spec = {"containers": [{"name": "c", "image": "iis"}]}
    if request:
        spec["containers"][0]["resources"] = {"requests": {IPV4: "1"}, "limits": {IPV4: "1"}}
    if selector == "nodeSelector":
        spec["nodeSelector"] = {"kubernetes.io/os": "windows"}
    elif selector == "beta":
        spec["nodeSelector"] = {"beta.kubernetes.io/os": "windows"}
    elif selector == "affinity":
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}]}]}}}
    if node_name:
        spec["nodeName"] = node_name
    status = {"phase": phase}
    if phase == "Running":
        status["podIP"] = "10.0.1.%d" % (len(name) + 10)
    meta = {"annotations": {procedure.IPV4_ANNOTATION: annotation}} if annotation else {}
    return obj("Pod", name, "shop", spec=spec, status=status, metadata=meta)


def event(kind, name, reason, message, source, namespace="shop", kind_type="Warning"):
    return obj("Event", "%s.%s" % (name, reason.lower()), namespace if kind == "Pod" else "default",
               involvedObject={"kind": kind, "name": name, "namespace": namespace if kind == "Pod" else None},
               reason=reason, message=message, source={"component": source}, type=kind_type,
               lastTimestamp="2026-12-01T10:00:00Z", count=1)


def cluster(*objects, ipam="true", policy=True, addon=None, subnet_free=200, stubs=True):
    base = [node("lin-1"), node("lin-2"),
            obj("ConfigMap", "amazon-vpc-cni", "kube-system", data={"enable-windows-ipam": ipam})]
    server = FakeApiServer(*(base + list(objects)))
    clients = FakeClients(server)
    if stubs:
        iam = clients.stub("iam")
        iam.add_response("list_attached_role_policies", {"AttachedPolicies": [
            {"PolicyName": "AmazonEKSClusterPolicy", "PolicyArn": "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"}]
            + ([{"PolicyName": "AmazonEKSVPCResourceController",
                 "PolicyArn": "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController"}] if policy else [])},
            {"RoleName": "c-role"})
        eks = clients.stub("eks")
        if addon is None:
            eks.add_client_error("describe_addon", "ResourceNotFoundException", http_status_code=404)
        else:
            eks.add_response("describe_addon", {"addon": addon})
        ec2 = clients.stub("ec2")
        ec2.add_response("describe_instances", {"Reservations": [{"Instances": [
            {"InstanceId": INSTANCE, "SubnetId": "subnet-1", "ImageId": "ami-1"}]}]})
        ec2.add_response("describe_subnets", {"Subnets": [
            {"SubnetId": "subnet-1", "AvailableIpAddressCount": subnet_free}]})
    return clients


def causes(clients, scope="not_running"):
    return [(r["name"], r["cause"]) for r in pod_network.diagnose(ClusterReads(clients), scope)]


def test_ipam_off_explains_every_pod_and_names_the_owner():
    clients = cluster(windows_node(), pod("web", "win-1"), pod("api"),
                      event("Pod", "web", "FailedCreatePodSandBox",
                            "pod does not have label vpc.amazonaws.com/PrivateIPv4Address", "kubelet"),
                      ipam="false", addon={"addonName": "vpc-cni", "addonVersion": "v1.18.0-eksbuild.1"})
    records = pod_network.diagnose(ClusterReads(clients))
    assert [(r["name"], r["cause"]) for r in records] == [("api", "windows_ipam_off"), ("web", "windows_ipam_off")]
    web = records[1]
    assert "add-on" in web["detail"] and web["remedy"] == pod_network.REMEDIES["windows_ipam_off"]
    assert web["events"][0]["reason"] == "FailedCreatePodSandBox" and web["events"][0]["source"] == "kubelet"
    found = pod_network.finding_of(records, finding)
    assert found["id"] == "windows_pods_without_ip" and found["objects"] == ["Pod/shop/api", "Pod/shop/web"]


def test_the_legacy_controller_comes_next():
    controller = obj("Deployment", procedure.LEGACY_CONTROLLER, "kube-system", spec={})
    assert causes(cluster(windows_node(), pod("web", "win-1"), controller)) == [("web", "legacy_controller_present")]


def test_a_cluster_role_without_the_policy():
    assert causes(cluster(windows_node(), pod("web", "win-1"), policy=False)) == [("web", "cluster_role_lacks_policy")]


def test_a_node_without_the_capacity():
    assert causes(cluster(windows_node(capacity=None), pod("web", "win-1"))) == [("web", "node_without_ipv4_capacity")]


@pytest.mark.parametrize("selector, words", [("affinity", "node affinity"), ("beta", "beta label"),
                                             ("nodeSelector", "not mutated")])
def test_a_pod_without_the_request(selector, words):
    records = pod_network.diagnose(ClusterReads(cluster(windows_node(), pod("web", request=False, selector=selector))))
    assert [r["cause"] for r in records] == ["pod_lacks_ipv4_request"] and words in records[0]["detail"]


def test_full_slots_on_the_node_and_for_an_unscheduled_pod():
    running = [pod("r%d" % i, "win-1", phase="Running") for i in range(3)]
    clients = cluster(windows_node(capacity=3), pod("on-node", "win-1"), pod("waiting"),
                      event("Pod", "waiting", "FailedScheduling",
                            "0/3 nodes are available: 1 Insufficient %s." % IPV4, "default-scheduler"),
                      *running)
    records = pod_network.diagnose(ClusterReads(clients))
    assert [(r["name"], r["cause"]) for r in records] == [("on-node", "node_ipv4_slots_full"),
                                                          ("waiting", "node_ipv4_slots_full")]
    assert "3 of 3" in records[0]["detail"] and "Insufficient" in records[1]["detail"]
    # all pods: the running ones say so
    assert ("r0", "none") in causes(clients, "all")


def test_a_subnet_without_free_addresses():
    assert causes(cluster(windows_node(), pod("web", "win-1"), subnet_free=0)) == [("web", "subnet_out_of_addresses")]


def test_the_controllers_event_then_the_host():
    clients = cluster(windows_node(), pod("web", "win-1"),
                      event("Pod", "web", "ResourceAllocationFailed", "failed to allocate 1 IPv4 address",
                            "vpc-resource-controller"))
    records = pod_network.diagnose(ClusterReads(clients))
    assert records[0]["cause"] == "controller_event" and "ResourceAllocationFailed" in records[0]["detail"]
    assert causes(cluster(windows_node(), pod("web", "win-1", annotation="10.0.1.5/32"))) == [
        ("web", "ip_assigned_host_problem")]
    assert causes(cluster(windows_node(), pod("web", "win-1"))) == [("web", "unknown")]


def test_nothing_to_diagnose_reads_nothing_more():
    clients = cluster(windows_node(), pod("web", "win-1", phase="Running"), stubs=False)
    assert pod_network.diagnose(ClusterReads(clients)) == []
    assert clients.answered == []
    assert pod_network.finding_of([], finding) is None


def test_the_causes_are_data_with_a_remedy_each():
    assert set(procedure.POD_CAUSES) <= set(pod_network.REMEDIES)
    assert procedure.POD_CAUSES[:3] == ("windows_ipam_off", "legacy_controller_present", "cluster_role_lacks_policy")
