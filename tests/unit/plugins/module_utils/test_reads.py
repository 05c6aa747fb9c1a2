"""What the reads cost (module_utils/_reads.py): each read once per process, and the
assessment's pod reads grow with the Windows nodes, not with every pod of the cluster."""

from ansible_collections.eksops.windows.plugins.module_utils import _reads as reads
from fakes import FakeApiServer, FakeClients, node, obj


def pod(name, node_name=None, selector=None, phase="Running", namespace="app"):
    spec = {"containers": [{"name": "c"}]}
    if node_name:
        spec["nodeName"] = node_name
    if selector:
        spec["nodeSelector"] = selector
    return obj("Pod", name, namespace, spec=spec, status={"phase": phase})


def test_windows_pods_are_read_per_windows_node_and_unscheduled():
    objects = [node("lin-1"), node("lin-2"), node("win-1", "windows"), node("win-2", "windows")]
    objects += [pod("l%d" % i, "lin-1") for i in range(1200)]  # 3 pages if every pod were read
    objects += [pod("w1", "win-1"), pod("w2", "win-2"), pod("done", "win-1", phase="Succeeded"),
                pod("waiting", selector={"kubernetes.io/os": "windows"}),
                pod("linux-waiting", selector={"kubernetes.io/os": "linux"})]
    server = FakeApiServer(*objects)
    cluster_reads = reads.ClusterReads(FakeClients(server))
    found = sorted(p["metadata"]["name"] for p in cluster_reads.windows_pods())
    assert found == ["w1", "w2", "waiting"]
    pod_requests = [r for r in server.requests if r[1] == "/api/v1/pods"]
    assert len(pod_requests) == 3  # unscheduled + one per Windows node; no pod of lin-1 read
    cluster_reads.windows_pods()
    assert len([r for r in server.requests if r[1] == "/api/v1/pods"]) == 3  # once per process


def test_many_windows_nodes_take_one_paged_list():
    objects = [node("win-%d" % i, "windows") for i in range(reads.WINDOWS_NODES_PER_NODE_LISTS + 1)]
    objects += [pod("w", "win-0"), pod("gone", "win-0", phase="Failed")]
    server = FakeApiServer(*objects)
    found = reads.ClusterReads(FakeClients(server)).windows_pods()
    assert [p["metadata"]["name"] for p in found] == ["w"]
    assert len([r for r in server.requests if r[1] == "/api/v1/pods"]) == 1


def test_a_gate_and_an_assessment_in_one_process_read_the_nodes_once():
    server = FakeApiServer(node("lin-1"), node("win-1", "windows"))
    cluster_reads = reads.ClusterReads(FakeClients(server))
    cluster_reads.linux_nodes()
    cluster_reads.windows_nodes()
    cluster_reads.node_summaries()
    assert server.requests.count(("GET", "/api/v1/nodes")) == 1


def test_node_summary_reads_the_beta_os_label_and_the_kernel():
    summary = reads.node_summary(node("old", labels={"beta.kubernetes.io/os": "windows"},
                                      kernel="10.0.17763.2114"))
    assert summary["os"] == "windows" and summary["linux"] is False
    assert summary["kernel_version"] == "10.0.17763.2114"
    fargate = reads.node_summary(node("f", fargate=True))
    assert fargate["os"] == "linux" and fargate["fargate"] is True and fargate["linux"] is False


def test_instance_types_are_described_in_one_call_with_the_hypervisor():
    clients = FakeClients(FakeApiServer())
    clients.stub("ec2").add_response("describe_instance_types", {"InstanceTypes": [
        {"InstanceType": "m5.large", "Hypervisor": "nitro", "BareMetal": False,
         "NetworkInfo": {"Ipv4AddressesPerInterface": 10}},
        {"InstanceType": "c4.large", "Hypervisor": "xen", "BareMetal": False,
         "NetworkInfo": {"Ipv4AddressesPerInterface": 10}},
        {"InstanceType": "m5.metal", "BareMetal": True,
         "NetworkInfo": {"Ipv4AddressesPerInterface": 50}},
    ]}, {"InstanceTypes": ["c4.large", "m5.large", "m5.metal"]})
    found = reads.ClusterReads(clients).eni_ipv4(["m5.large", "c4.large", "m5.metal", "m5.large", None])
    assert found == {
        "m5.large": {"ipv4_per_interface": 10, "hypervisor": "nitro", "bare_metal": False},
        "c4.large": {"ipv4_per_interface": 10, "hypervisor": "xen", "bare_metal": False},
        "m5.metal": {"ipv4_per_interface": 50, "hypervisor": None, "bare_metal": True},
    }
    assert clients.answered == ["DescribeInstanceTypes"]


def test_compute_facts_count_the_nodes_outside_auto_mode_hybrid_and_fargate():
    def labelled(name, compute):
        return node(name, labels={"kubernetes.io/os": "linux", "eks.amazonaws.com/compute-type": compute})
    server = FakeApiServer(labelled("a", "auto"), labelled("h", "hybrid"), node("f", fargate=True),
                           node("ec2"), node("win", "windows"))
    cluster_reads = reads.ClusterReads(FakeClients(server))
    assert cluster_reads.compute_facts() == {"standard_nodes": 2,
                                             "node_compute_types": ["auto", "fargate", "hybrid"]}
    assert reads.node_summary(labelled("a", "auto"))["compute_type"] == "auto"


def test_the_webhook_secret_is_read_as_vpc_webhook_cert_reads_it_once():
    import base64

    secret = obj("Secret", "vpc-admission-webhook-certs", "kube-system",
                 data={"cert.pem": base64.b64encode(b"garbage").decode()})
    for objects, expected in (([], {"present": False}), ([secret], None)):
        server = FakeApiServer(*objects)
        found = reads.ClusterReads(FakeClients(server))
        facts = found.webhook_certificate()
        assert found.webhook_certificate() is facts and len(server.requests) == 1
        if expected:
            assert facts == expected
        else:
            assert facts["present"] is True and facts["valid_pem"] is False
            assert facts["error"].startswith("cert.pem is not a PEM certificate")
            assert facts["key_matches"] is None  # no key.pem
