"""Errors of eks_windows_support say what is wrong and what to do, and nothing is written."""

import pytest

from eksopslab.testing import host_inventory, running_lab, task_results

TASK = "Enable control-plane Windows support"


@pytest.fixture(scope="module", name="lab")
def errors_lab(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("errors")), "errors.yml") as handle:
        yield handle


def ipam(lab, name):
    return lab.get(name, "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni")["data"]


BLOCKED = {"no-role": "cluster_role_missing", "ipv6": "ipv6_cluster", "no-linux": "no_linux_node"}


@pytest.mark.parametrize("options", [
    (),
    # what used to skip the gate (enable_preflight=false is gone: it is ignored now), and
    # every other option: none of them goes past a blocker
    ("-e", "enable_preflight=false", "-e", "enable_manage_iam=false", "-e", "enable_assess=true"),
])
def test_a_blocked_cluster_is_never_enabled_whatever_the_options(lab, options):
    hosts = sorted(BLOCKED)
    writes_before, aws_writes_before = lab.writes(hosts), lab.aws_writes()
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", ",".join(hosts), *options)
    assert rc != 0, raw
    results = task_results(parsed, TASK)
    for name, blocker in BLOCKED.items():
        assert results[name].get("failed") is True, results[name]
        assert blocker in results[name]["preflight"]["blocker_ids"], results[name]
        assert "force=true" in results[name]["msg"]
        assert ipam(lab, name) == {"enable-windows-ipam": "false"}, name
    assert lab.writes(hosts) == writes_before
    assert lab.aws_writes() == aws_writes_before


def test_missing_cluster_role_is_named(lab):
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "no-role")
    assert rc != 0, raw  # the module's gate refuses it before any write
    msg = task_results(parsed, TASK)["no-role"]["msg"]
    assert "the cluster IAM role arn:aws:iam::123456789012:role/no-role-cluster-role does not " \
           "exist" in msg, msg
    assert ipam(lab, "no-role") == {"enable-windows-ipam": "false"}
    # forced past the gate, the policy step still names the role it cannot attach to
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "no-role",
                                       "-e", "enable_force=true")
    assert rc != 0, raw
    msg = task_results(parsed, TASK)["no-role"]["msg"]
    assert "The cluster role arn:aws:iam::123456789012:role/no-role-cluster-role" in msg, msg
    assert "does not exist in IAM" in msg, msg
    assert ipam(lab, "no-role") == {"enable-windows-ipam": "false"}


def test_force_is_the_only_way_past_a_blocker(lab):
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "ipv6",
                                       "-e", "enable_force=true", check=True)
    assert rc == 0, raw
    result = task_results(parsed, TASK)["ipv6"]
    assert result["preflight"]["forced"] is True
    assert result["preflight"]["blocker_ids"] == ["ipv6_cluster"]
    assert "FORCED past" in task_results(parsed, "Print the cluster's summary")["ipv6"]["msg"]
    assert parsed["global_custom_stats"]["eksops_windows_enable"]["ipv6"]["forced"] is True


def test_access_denied_names_the_action_and_writes_nothing(lab):
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "locked",
                                       env=lab.aws_env("no-attach"))
    assert rc != 0, raw
    result = task_results(parsed, TASK)["locked"]
    assert "(iam:AttachRolePolicy)" in result["msg"], result["msg"]
    assert "AccessDenied" in result["msg"] or result.get("error", {}).get("code") == \
        "AccessDenied", result
    # the policy step comes before the ConfigMap: a refused attach leaves the cluster as it was
    assert ipam(lab, "locked") == {"enable-windows-ipam": "false"}


def test_the_admin_passes_where_the_limited_user_did_not(lab):
    rc, _parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "locked")
    assert rc == 0, raw
    assert ipam(lab, "locked") == {"enable-windows-ipam": "true"}


# --- reliability (issue 11): the right cluster every time, bounded waits, explanations -------

def secret_of(lab, name):
    return lab.get(name, "/api/v1/namespaces/kube-system/secrets/vpc-admission-webhook-certs")


def policy_attached(lab, name):
    iam = lab.boto3_client("iam", "us-east-1")
    role = lab.cluster(name)["role_arn"].rsplit("/", 1)[-1]
    return any(p["PolicyName"] == "AmazonEKSVPCResourceController"
               for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"])


def test_a_kubeconfig_exported_to_a_fleet_run_reaches_only_its_own_cluster(lab):
    # the kubeconfig of twin-a exported as K8S_AUTH_KUBECONFIG, as kubectl users do, and a run
    # over twin-a and twin-b: before, twin-b's task wrote twin-a's ConfigMap and attached the
    # policy on twin-b's role, and both said "enabled"
    exported = {"K8S_AUTH_KUBECONFIG": lab.cluster("twin-a")["admin_kubeconfig"]}
    users = ("lab-admin", "kubernetes-admin")  # the kubeconfig's and the EKS token path's
    before = {user: lab.writes(["twin-a", "twin-b"], username=user) for user in users}
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "twin-a,twin-b", env=exported)
    assert rc != 0, raw
    results = task_results(parsed, TASK)
    assert results["twin-a"].get("failed") is not True, results["twin-a"]
    refused = results["twin-b"]
    assert refused.get("failed") is True and refused["changed"] is False, refused
    msg = refused["msg"]
    assert "is not EKS cluster 'twin-b'" in msg, msg
    assert lab.cluster("twin-a")["admin_kubeconfig"] in msg and "K8S_AUTH_KUBECONFIG" in msg, msg
    assert "Nothing was written" in msg, msg
    # twin-a got one ConfigMap write (its own host's), twin-b none, and no AWS write for twin-b
    after = {user: lab.writes(["twin-a", "twin-b"], username=user) for user in users}
    new = after["lab-admin"]["twin-a"][len(before["lab-admin"]["twin-a"]):]
    patches = [w for w in new if "configmaps/amazon-vpc-cni" in w[1]]
    assert len(patches) == 1, new
    assert ipam(lab, "twin-a") == {"enable-windows-ipam": "true"}
    for user in users:
        assert after[user]["twin-b"] == before[user]["twin-b"], user
    assert ipam(lab, "twin-b") == {"enable-windows-ipam": "false"}
    assert policy_attached(lab, "twin-a") is True
    assert policy_attached(lab, "twin-b") is False
    # the kubeconfig of each host's own cluster is proven and used
    rc, parsed, raw = lab.run_playbook(
        "eksops.windows.enable", "-l", "twin-b",
        env={"K8S_AUTH_KUBECONFIG": lab.cluster("twin-b")["admin_kubeconfig"]})
    assert rc == 0, raw
    assert ipam(lab, "twin-b") == {"enable-windows-ipam": "true"}


def test_legacy_removal_through_another_clusters_kubeconfig_deletes_nothing(lab):
    before, writes = secret_of(lab, "frozen"), lab.writes("frozen", username="lab-admin")
    rc, parsed, raw = lab.run_playbook(
        "eksops.windows.legacy_remove", "-l", "down",
        env={"K8S_AUTH_KUBECONFIG": lab.cluster("frozen")["admin_kubeconfig"]})
    assert rc != 0, raw
    assert "is not EKS cluster 'down'" in raw, raw
    assert lab.writes("frozen", username="lab-admin") == writes
    assert secret_of(lab, "frozen") == before


def test_the_identity_is_reported_and_skip_is_a_warned_override(lab, playbook):
    kubeconfig = lab.cluster("twin-a")["admin_kubeconfig"]
    rc, parsed, raw = lab.run_playbook(playbook("info_with_options.yml"), "-e", "target=twin-a",
                                       "-e", "test_kubeconfig=" + kubeconfig)
    assert rc == 0, raw
    assert task_results(parsed, "Read the cluster")["twin-a"]["cluster_identity"] == "serving-certificate"
    # a proxy that shows neither proof: skip is the documented override, and it warns
    rc, parsed, raw = lab.run_playbook(playbook("info_with_options.yml"), "-e", "target=twin-b",
                                       "-e", "test_kubeconfig=" + kubeconfig,
                                       env={"EKSOPS_CLUSTER_IDENTITY": "skip"})
    assert rc == 0, raw
    result = task_results(parsed, "Read the cluster")["twin-b"]
    assert result["cluster_identity"] == "skipped"
    assert any("was not proven to be EKS cluster 'twin-b'" in w for w in result["warnings"]), result


def test_a_frozen_api_server_costs_one_timeout_and_the_rest_of_the_fleet_goes_on(lab, playbook):
    # SIGSTOP: the kernel still takes the TCP connection, the server never answers
    env = {"EKSOPS_KUBE_CONNECT_TIMEOUT": "2", "EKSOPS_KUBE_READ_TIMEOUT": "3"}
    with lab.frozen("frozen"):
        rc, parsed, raw = lab.run_playbook("eksops.windows.renew_cert", "-l", "frozen,twin-a",
                                           env=env)
        info_rc, info, info_raw = lab.run_playbook(playbook("info_with_options.yml"),
                                                   "-e", "target=frozen,twin-a", env=env)
    assert rc != 0, raw
    assert "Traceback" not in raw, raw
    msg = task_results(parsed, "Renew the webhook certificate when it needs it")["frozen"]["msg"]
    endpoint = lab.cluster("frozen")["endpoint"]
    assert "EKS cluster 'frozen' (%s)" % endpoint in msg and "timed out" in msg, msg
    # the first request of the renewal (its Lease read), with no permission hint for a timeout
    assert msg.startswith("Reading Lease kube-system/eksops-windows"), msg
    assert "Nothing was written" in msg and "needs get, create" not in msg, msg
    assert info_rc != 0, info_raw
    results = task_results(info, "Read the cluster")
    assert results["twin-a"].get("failed") is not True, results["twin-a"]
    assert "timed out" in results["frozen"]["msg"], results["frozen"]
    # the server answers again once thawed: nothing was left half-done
    assert secret_of(lab, "frozen")["data"]["cert.pem"]


def test_a_stopped_api_server_is_explained_by_every_procedure(lab):
    lab.stop_apiserver("down")
    endpoint = lab.cluster("down")["endpoint"]
    for procedure in ("renew_cert", "enable", "legacy_remove", "cluster_info"):
        rc, parsed, raw = lab.run_playbook("eksops.windows." + procedure, "-l", "down")
        assert rc != 0, (procedure, raw)
        assert "Traceback" not in raw and "Max retries exceeded" not in raw, (procedure, raw)
        failed = [r for play in parsed["plays"] for task in play["tasks"]
                  for host, r in task["hosts"].items() if host == "down" and r.get("failed")]
        assert failed, (procedure, raw)
        msg = failed[0]["msg"]
        assert "cannot reach the API server of EKS cluster 'down' (%s)" % endpoint in msg, (procedure, msg)
        assert "Connection refused" in msg, (procedure, msg)


BAD_INPUTS = [  # (the play's variables, what the refusal says): one host of cluster twin-a each
    ({"test_cluster_name": ""}, "cluster_name is empty. Set eks_cluster_name on the host"),
    ({"test_kubeconfig": "/nonexistent/kubeconfig"}, "The kubeconfig file /nonexistent/kubeconfig does not exist"),
    ({"test_host": "https://127.0.0.1:1", "test_ca_cert": "/nonexistent/ca.crt"},
     "The CA file /nonexistent/ca.crt (option ca_cert or K8S_AUTH_SSL_CA_CERT) does not exist"),
]


def test_bad_inputs_are_named_with_what_to_do(lab, playbook, tmp_path):
    region = lab.cluster("twin-a")["region"]
    inventory = host_inventory(tmp_path / "bad.yml", {
        "bad-%d" % n: dict(variables, eks_cluster_name="twin-a", aws_region=region)
        for n, (variables, _says) in enumerate(BAD_INPUTS)})
    rc, parsed, raw = lab.run_playbook(playbook("info_with_options.yml"), inventory=inventory)
    assert rc != 0, raw
    results = task_results(parsed, "Read the cluster")
    assert set(results) == {"bad-%d" % n for n in range(len(BAD_INPUTS))}, raw
    for n, (variables, says) in enumerate(BAD_INPUTS):
        assert results["bad-%d" % n]["failed"] and says in results["bad-%d" % n]["msg"], (variables, results)


def test_an_out_of_range_read_timeout_is_named(lab, playbook):
    rc, parsed, raw = lab.run_playbook(playbook("info_with_options.yml"), "-e", "target=twin-a",
                                       env={"EKSOPS_KUBE_READ_TIMEOUT": "0"})
    assert rc != 0, raw
    msg = task_results(parsed, "Read the cluster")["twin-a"]["msg"]
    assert "kube_read_timeout=0.0 is out of range" in msg, msg
