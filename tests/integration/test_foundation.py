"""The foundation against the lab: real ansible-playbook runs, state read back through the API."""

import base64

from eksopslab.testing import task_results, write_yaml

TOKEN_MARK = "k8s-aws-v1."


def api_nodes(lab, cluster):
    return {n["metadata"]["name"]: n for n in lab.get(cluster, "/api/v1/nodes")["items"]}


def test_cluster_info_playbook_reads_every_cluster_through_the_token_path(lab):
    rc, parsed, raw = lab.run_playbook("eksops.windows.cluster_info")
    assert rc == 0, raw
    results = task_results(parsed, "Read the cluster through its EKS endpoint")
    assert set(results) == {"prod", "china"}
    for name, result in results.items():
        cluster = lab.cluster(name)
        described = lab.boto3_client("eks", cluster["region"]).describe_cluster(
            name=name)["cluster"]
        assert result["auth_method"] == "eks-token"
        assert result["changed"] is False
        assert result["cluster"]["version"] == described["version"] == cluster["version"]
        assert result["cluster"]["platform_version"] == described["platformVersion"]
        assert result["cluster"]["endpoint"] == cluster["endpoint"]
        assert result["cluster"]["role_arn"] == described["roleArn"]
        assert result["server_version"]["git_version"] == "v1.20.2"
        nodes = api_nodes(lab, name)
        assert {n["name"] for n in result["nodes"]} == set(nodes)
        for node in result["nodes"]:
            labels = nodes[node["name"]]["metadata"]["labels"]
            assert node["os"] == labels["kubernetes.io/os"]
            assert node["instance_type"] == labels["node.kubernetes.io/instance-type"]
            assert node["pod_capacity"] == int(nodes[node["name"]]["status"]["capacity"]["pods"])
            assert node["ready"] is True
    assert results["prod"]["node_counts"] == {"linux": 2, "windows": 1}
    assert results["china"]["cluster"]["partition"] == "aws-cn"
    assert results["china"]["cluster"]["arn"].startswith("arn:aws-cn:eks:cn-north-1:")


def test_check_mode_reads_the_same(lab):
    rc, parsed, raw = lab.run_playbook("eksops.windows.cluster_info", check=True)
    assert rc == 0, raw
    results = task_results(parsed, "Read the cluster through its EKS endpoint")
    assert results["prod"]["node_counts"] == {"linux": 2, "windows": 1}


def test_token_never_reaches_output_even_at_vvv(lab):
    rc, _parsed, raw = lab.run_playbook("eksops.windows.cluster_info", "-vvv")
    assert rc == 0, raw
    assert "Bearer" not in raw
    assert TOKEN_MARK not in raw


def test_lookup_kubeconfig_drives_kubernetes_core(lab, playbook):
    rc, parsed, raw = lab.run_playbook(playbook("lookup_with_kubernetes_core.yml"), "-vvv")
    assert rc == 0, raw
    results = task_results(parsed, "List the nodes")
    for name, result in results.items():
        assert {n["metadata"]["name"] for n in result["resources"]} == set(api_nodes(lab, name))
    assert TOKEN_MARK not in raw


def test_explicit_kubeconfig_wins_over_the_eks_path(lab, playbook):
    kubeconfig = lab.cluster("prod")["admin_kubeconfig"]
    rc, parsed, raw = lab.run_playbook(playbook("info_with_options.yml"), "-e", "target=prod",
                                       "-e", f"test_kubeconfig={kubeconfig}")
    assert rc == 0, raw
    assert task_results(parsed, "Read the cluster")["prod"]["auth_method"] == "kubeconfig"


def test_k8s_auth_environment_wins_too(lab, playbook):
    kubeconfig = lab.cluster("prod")["admin_kubeconfig"]
    rc, parsed, raw = lab.run_playbook(playbook("info_with_options.yml"), "-e", "target=prod",
                                       env={"K8S_AUTH_KUBECONFIG": kubeconfig})
    assert rc == 0, raw
    assert task_results(parsed, "Read the cluster")["prod"]["auth_method"] == "kubeconfig"


def failure(lab, playbook, *args, env=None):
    rc, parsed, raw = lab.run_playbook(playbook("info_with_options.yml"), *args, env=env)
    assert rc != 0, raw
    result = task_results(parsed, "Read the cluster")
    return next(iter(result.values()))["msg"]


def test_unknown_cluster_is_a_clear_error(lab, playbook, tmp_path):
    inventory = write_yaml(tmp_path / "inv.yml", {"all": {"hosts": {"ghost": {
        "eks_cluster_name": "ghost", "aws_region": "us-west-2",
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}})
    rc, parsed, raw = lab.run_playbook(playbook("info_with_options.yml"), "-e", "target=ghost",
                                       inventory=inventory)
    assert rc != 0
    msg = task_results(parsed, "Read the cluster")["ghost"]["msg"]
    assert msg.startswith("EKS cluster 'ghost' was not found in region us-west-2."), msg


def test_unreachable_api_server_is_a_clear_error(lab, playbook):
    msg = failure(lab, playbook, "-e", "target=prod", "-e", "test_host=https://127.0.0.1:9")
    assert "cannot reach the API server" in msg, msg


def test_tls_failure_names_the_ca(lab, playbook):
    other_ca = lab.cluster("china")["pki"]["ca_file"]
    msg = failure(lab, playbook, "-e", "target=prod",
                  "-e", f"test_host={lab.cluster('prod')['endpoint']}",
                  "-e", f"test_ca_cert={other_ca}")
    assert "TLS verification" in msg, msg


def test_unmapped_identity_is_told_about_aws_auth(lab, playbook):
    msg = failure(lab, playbook, "-e", "target=prod", env=lab.aws_env("outsider"))
    assert "refused our credentials (401)" in msg and "aws-auth" in msg, msg


def test_ca_in_results_is_not_dumped(lab):
    rc, parsed, raw = lab.run_playbook("eksops.windows.cluster_info")
    assert rc == 0, raw
    ca = base64.b64encode(open(lab.cluster("prod")["pki"]["ca_file"], "rb").read()).decode()
    assert ca not in raw


def test_one_cluster_read_costs_two_api_requests(lab):
    before = {name: len(lab.requests(name)) for name in ("prod", "china")}
    rc, _parsed, raw = lab.run_playbook("eksops.windows.cluster_info")
    assert rc == 0, raw
    for name in ("prod", "china"):
        made = lab.requests(name)[before[name]:]
        assert [(verb, uri.split("?")[0]) for verb, uri, _status in made] == [
            ("get", "/version"), ("list", "/api/v1/nodes")], made


def test_the_built_tarball_installs_and_runs_from_the_installed_copy(lab, tmp_path):
    # what a user gets from `ansible-galaxy collection build`: no lab, no test suites, the
    # LICENSE; installed into an empty path (the dependencies come with the ansible package)
    import os
    import subprocess
    import sys
    import tarfile

    from eksopslab.testing import ROOT

    bindir = os.path.dirname(sys.executable)
    subprocess.run([os.path.join(bindir, "ansible-galaxy"), "collection", "build",
                    "--output-path", str(tmp_path), ROOT], check=True, capture_output=True)
    tarball = next(p for p in os.listdir(tmp_path) if p.endswith(".tar.gz"))
    with tarfile.open(tmp_path / tarball) as archive:
        names = archive.getnames()
    assert "LICENSE" in names and "plugins/modules/eks_windows_support.py" in names
    assert not [n for n in names if n.startswith(("tests/lab", "tests/unit", "tests/integration",
                                                  "tests/gates.py", ".build", ".venv"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    installed = tmp_path / "installed"
    subprocess.run([os.path.join(bindir, "ansible-galaxy"), "collection", "install", "--no-deps", "--force",
                    "-p", str(installed), str(tmp_path / tarball)], check=True, capture_output=True)
    copy = installed / "ansible_collections" / "eksops" / "windows"
    assert (copy / "MANIFEST.json").exists()
    rc, parsed, raw = lab.run_playbook("eksops.windows.cluster_info", "-l", "prod",
                                       env={"ANSIBLE_COLLECTIONS_PATH": str(installed)})
    assert rc == 0, raw
    # the modules ran from the installed copy, not from the working tree
    assert str(copy) in subprocess.run(
        [os.path.join(bindir, "ansible-doc"), "-t", "module", "eksops.windows.eks_windows_info",
         "--json"], env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed)),
        capture_output=True, text=True, check=True).stdout
