"""The lab behaves like EKS where the collection depends on it."""

import base64
import datetime
import os
import sys
import time
import unittest.mock

import kubernetes
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.eksops.windows.plugins.module_utils import _eks_token as eks_token
from eksopslab import kube
from eksopslab.lab import Lab


def token_for(lab, cluster_name, region, user=None):
    sts = lab.boto3_client("sts", region, user)
    return eks_token.get_token(sts, cluster_name)[0]


def status_with_token(lab, cluster_name, token, path="/api/v1/nodes"):
    cluster = lab.cluster(cluster_name)
    configuration = kubernetes.client.Configuration()
    configuration.host = cluster["endpoint"]
    configuration.ssl_ca_cert = cluster["pki"]["ca_file"]
    configuration.api_key = {"authorization": "Bearer " + token}
    api = kubernetes.client.ApiClient(configuration)
    try:
        kube.request(api, "GET", path)
        return 200
    except kubernetes.client.exceptions.ApiException as error:
        return error.status
    finally:
        api.close()


def test_good_token_is_accepted_as_cluster_creator(lab):
    assert status_with_token(lab, "alpha", token_for(lab, "alpha", "us-west-2")) == 200


def test_token_for_another_cluster_is_refused(lab):
    assert status_with_token(lab, "alpha", token_for(lab, "beta", "us-west-2")) == 401


def test_expired_token_is_refused(lab):
    old = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - \
        datetime.timedelta(minutes=20)
    with unittest.mock.patch("botocore.auth.get_current_datetime", return_value=old):
        token = token_for(lab, "alpha", "us-west-2")
    assert status_with_token(lab, "alpha", token) == 401


def test_tampered_token_is_refused(lab):
    token = token_for(lab, "alpha", "us-west-2")
    url = eks_token.TOKEN_PREFIX + base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(token[len(eks_token.TOKEN_PREFIX):] + "==")
        .replace(b"X-Amz-Expires=60", b"X-Amz-Expires=59")).decode().rstrip("=")
    assert status_with_token(lab, "alpha", url) == 401
    assert status_with_token(lab, "alpha", "k8s-aws-v1.bm90LWEtdXJs") == 401


def test_identities_are_mapped_through_aws_auth(lab):
    # mapped: authenticated as "reader" but without RBAC rights -> 403; unmapped -> 401
    assert status_with_token(lab, "alpha", token_for(lab, "alpha", "us-west-2",
                                                     "mapped-reader")) == 403
    assert status_with_token(lab, "alpha", token_for(lab, "alpha", "us-west-2",
                                                     "outsider")) == 401


def test_describe_cluster_returns_the_lab(lab):
    for name, region in (("alpha", "us-west-2"), ("beta", "eu-west-1")):
        described = lab.boto3_client("eks", region).describe_cluster(name=name)["cluster"]
        cluster = lab.cluster(name)
        assert described["endpoint"] == cluster["endpoint"]
        with open(cluster["pki"]["ca_file"], "rb") as handle:
            assert base64.b64decode(described["certificateAuthority"]["data"]) == handle.read()
        assert described["version"] == cluster["version"]
        assert described["platformVersion"] == cluster["platform_version"]
        assert described["roleArn"].endswith(f":role/{name}-cluster-role")


def test_aws_audit_log_names_caller_action_and_status(lab):
    """Each AWS request is logged with its access key, service, region, action and status,
    and reading a form body for its Action leaves the request intact for moto."""
    before = len(lab.aws_calls())
    lab.boto3_client("eks", "us-west-2").describe_cluster(name="alpha")
    iam = lab.boto3_client("iam", "us-east-1")
    role = lab.cluster("alpha")["role_arn"].rsplit("/", 1)[1]
    attached = iam.list_attached_role_policies(RoleName=role, MaxItems=1)  # form body
    assert attached["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="no-such-role")
    lab.boto3_client("eks", "eu-west-1").list_clusters()
    assert lab.aws_calls()[before:] == [
        ("eks", "DescribeCluster", 200), ("iam", "ListAttachedRolePolicies", 200),
        ("iam", "GetRole", 404), ("eks", "ListClusters", 200)]
    writes = lab.aws_writes()  # the lab's own setup, made with the admin's key
    assert ("eks", "CreateCluster", 200) in writes and ("iam", "CreateRole", 200) in writes
    assert not [c for c in writes if c[1].startswith(("Describe", "List", "Get"))]


def csr_pem(common_name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    request = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]),
                              critical=False)
               .sign(key, hashes.SHA256()))
    return request.public_bytes(serialization.Encoding.PEM)


def submit_and_approve(lab, cluster, name, version, usages, signer=None):
    api = lab.admin_api(cluster)
    base = f"/apis/certificates.k8s.io/{version}/certificatesigningrequests"
    spec = {"request": base64.b64encode(csr_pem(name)).decode(), "usages": usages}
    if signer:
        spec["signerName"] = signer
    csr = kube.request(api, "POST", base, body={
        "apiVersion": f"certificates.k8s.io/{version}", "kind": "CertificateSigningRequest",
        "metadata": {"name": name}, "spec": spec})
    csr.setdefault("status", {})["conditions"] = [{
        "type": "Approved", "status": "True", "reason": "LabTest", "message": "approved"}]
    kube.request(api, "PUT", f"{base}/{name}/approval", body=csr)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        current = kube.request(api, "GET", f"{base}/{name}")
        status = current.get("status") or {}
        if status.get("certificate") or any(
                c["type"] == "Failed" for c in status.get("conditions") or []):
            return status
        time.sleep(0.2)
    return current.get("status") or {}


def ca_of(lab, cluster):
    with open(lab.cluster(cluster)["pki"]["ca_file"], "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


def test_approved_app_serving_csr_is_signed_like_eks(lab):
    status = submit_and_approve(lab, "beta", "web.default", "v1",
                                ["digital signature", "key encipherment", "server auth"],
                                "beta.eks.amazonaws.com/app-serving")
    cert = x509.load_pem_x509_certificate(base64.b64decode(status["certificate"]))
    ca = ca_of(lab, "beta")
    assert cert.issuer == ca.subject
    ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                           __import__("cryptography.hazmat.primitives.asymmetric.padding",
                                      fromlist=["PKCS1v15"]).PKCS1v15(),
                           cert.signature_hash_algorithm)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=364) < lifetime < datetime.timedelta(days=366)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == ["web.default"]


def test_client_auth_app_serving_csr_fails(lab):
    status = submit_and_approve(lab, "beta", "client.default", "v1",
                                ["digital signature", "key encipherment", "client auth"],
                                "beta.eks.amazonaws.com/app-serving")
    assert not status.get("certificate")
    failed = [c for c in status["conditions"] if c["type"] == "Failed"]
    assert failed and "client auth" in failed[0]["message"]


def test_v1beta1_legacy_unknown_csr_is_signed_by_the_controller_manager(lab):
    status = submit_and_approve(lab, "alpha", "legacy.kube-system", "v1beta1",
                                ["digital signature", "key encipherment", "server auth"])
    cert = x509.load_pem_x509_certificate(base64.b64decode(status["certificate"]))
    assert cert.issuer == ca_of(lab, "alpha").subject
    csr = lab.get("alpha", "/apis/certificates.k8s.io/v1/certificatesigningrequests/"
                           "legacy.kube-system")
    assert csr["spec"]["signerName"] == "kubernetes.io/legacy-unknown"


def test_no_app_serving_signer_before_1_22(lab):
    """alpha is 1.21: as on EKS, nothing signs app-serving CSRs there."""
    status = submit_and_approve(lab, "alpha", "early.default", "v1",
                                ["digital signature", "key encipherment", "server auth"],
                                "beta.eks.amazonaws.com/app-serving")
    assert not status.get("certificate")


def test_fixtures_look_like_eks(lab):
    nodes = lab.get("beta", "/api/v1/nodes")["items"]
    windows = [n for n in nodes if n["metadata"]["labels"]["kubernetes.io/os"] == "windows"]
    assert [n["metadata"]["name"] for n in windows] == ["windows-b"]
    assert windows[0]["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "m5.large"
    assert windows[0]["status"]["capacity"]["pods"] == "9"
    cni = lab.get("beta", "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni")
    assert cni["data"] == {"enable-windows-ipam": "false"}
    lab.get("beta", "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node")
    lab.get("beta", "/apis/apps/v1/namespaces/kube-system/deployments/coredns")


def test_the_api_server_serves_discovery_and_its_own_openapi_unmerged(lab):
    """build-kubernetes.sh turns off the aggregator's merge of the OpenAPI documents (most of a
    start's CPU): discovery, what the clients read, is whole, and /openapi/v2 is kube-apiserver's
    own document, every built-in resource in it."""
    groups = {g["name"] for g in lab.get("beta", "/apis")["groups"]}
    assert {"apps", "rbac.authorization.k8s.io", "certificates.k8s.io", "admissionregistration.k8s.io",
            "coordination.k8s.io", "apiextensions.k8s.io"} <= groups, groups
    assert "configmaps" in {r["name"] for r in lab.get("beta", "/api/v1")["resources"]}
    document = lab.get("beta", "/openapi/v2")
    assert "/api/v1/namespaces/{namespace}/configmaps" in document["paths"]
    assert "io.k8s.api.apps.v1.DaemonSet" in document["definitions"]


def test_stop_leaves_nothing_running(tmp_path):
    lab = Lab(str(tmp_path / "small"))
    lab.start({"clusters": [{"name": "solo", "version": "1.20"}]})
    pids = lab.running()
    assert {"etcd", "daemon", "apiserver-solo", "controller-manager-solo"} <= set(pids)
    lab.stop()
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_webhook_services_are_never_dialed(lab):
    """The legacy webhook configuration matches every pod CREATE. The API server must resolve
    its Service through Endpoints (none exist in the lab) and fail open, never dialing the
    Service's ClusterIP, an address off this machine."""
    api = lab.admin_api("alpha")
    kube.request(api, "POST", "/api/v1/namespaces/default/pods", body={
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
        "spec": {"containers": [{"name": "c", "image": "example.invalid/probe"}]}})
    with open(lab.lab.path("apiserver-alpha.log"), encoding="utf-8") as handle:
        log = handle.read()
    assert 'no endpoints available for service "vpc-admission-webhook-svc"' in log
    assert "failed to verify certificate" not in log
    assert "dial tcp 10." not in log


def test_fixtures_refuse_routable_pod_addresses():
    from eksopslab import fixtures  # pylint: disable=import-outside-toplevel
    with pytest.raises(ValueError, match="routable"):
        fixtures.create(None, {"kind": "Pod", "metadata": {"name": "p"},
                               "status": {"podIP": "10.0.0.5"}})


def test_eksops_lab_ports_narrows_the_ports_a_lab_takes(monkeypatch):
    from eksopslab import lab as lab_module  # pylint: disable=import-outside-toplevel
    monkeypatch.setenv("EKSOPS_LAB_PORTS", "21000-21019")
    ports = {lab_module.free_port() for _attempt in range(10)}
    assert len(ports) == 10 and all(21000 <= p <= 21019 for p in ports)


@pytest.mark.parametrize("value", ["21000", "30000-20000", "80-90", "a-b", "21000-70000"])
def test_a_bad_eksops_lab_ports_is_refused_with_the_expected_form(monkeypatch, value):
    from eksopslab import lab as lab_module  # pylint: disable=import-outside-toplevel
    monkeypatch.setenv("EKSOPS_LAB_PORTS", value)
    with pytest.raises(lab_module.LabError, match="is not a range like 20000-25999"):
        lab_module.free_port()


def load_script(relative, name):
    """A script of tests/ (not a package) as a module."""
    import importlib.util  # pylint: disable=import-outside-toplevel
    path = os.path.join(os.path.dirname(__file__), "..", "..", relative)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_gates():
    return load_script("gates.py", "gates")


def test_the_gate_runner_gives_its_slots_ranges_that_do_not_overlap():
    gates = load_gates()
    ranges = [tuple(int(v) for v in r.split("-")) for r in gates.port_ranges(3)]
    assert all(low < high for low, high in ranges)
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:]))
    assert all(high - low > 3000 for low, high in ranges)


def test_the_gate_runner_reports_each_gates_cpu_time_its_children_included(tmp_path, monkeypatch,
                                                                           capsys):
    gates = load_gates()
    # a gate whose CPU is spent in a grandchild (make -> sh -> python): only a wait4 account of
    # the whole tree sees it; `idle` sleeps and spends next to none
    burn = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass"
    (tmp_path / "burn.py").write_text(burn, encoding="utf-8")
    (tmp_path / "Makefile").write_text(
        f"burn:\n\t{sys.executable} burn.py\nidle:\n\tsleep 0.3\nbad:\n\texit 3\n",
        encoding="utf-8")
    monkeypatch.setattr(gates, "ROOT", str(tmp_path))
    monkeypatch.setattr(gates, "LOGS", str(tmp_path / "logs"))
    assert gates.main(["--jobs", "2", "--gates", "burn idle"]) == 0
    rows = {line.split()[0]: line.split()[1:4] for line in capsys.readouterr().out.splitlines()
            if line.startswith("   ")}
    assert float(rows["burn"][1]) >= 0.5 and rows["burn"][2] == "slot"
    assert rows["idle"][1] == "0"
    assert gates.main(["--jobs", "1", "--gates", "bad burn"]) == 1
    out = capsys.readouterr().out
    assert "== gate bad FAILED" in out and "gate burn started" not in out


def test_a_gate_waits_only_for_the_setup_gates_among_its_prerequisites(tmp_path, monkeypatch,
                                                                       capsys):
    gates = load_gates()
    (tmp_path / "Makefile").write_text(
        "quick:\n\ttrue\nslow:\n\tsleep 2\nbroken:\n\tsleep 1; exit 2\n"
        "free: quick ## needs the quick setup only\n\ttrue\n"
        "bound: quick slow\n\ttrue\nbound-broken: quick broken\n\ttrue\n",
        encoding="utf-8")
    monkeypatch.setattr(gates, "ROOT", str(tmp_path))
    monkeypatch.setattr(gates, "LOGS", str(tmp_path / "logs"))
    makefile = (tmp_path / "Makefile").read_text(encoding="utf-8")
    assert gates.needed_setup("free", ["quick", "slow"], makefile) == {"quick"}
    assert gates.needed_setup("nowhere", ["quick", "slow"], makefile) == {"quick", "slow"}
    assert gates.main(["--setup", "quick slow", "--jobs", "2", "--gates", "bound free"]) == 0
    lines = capsys.readouterr().out.splitlines()
    order = [" ".join(line.split()[2:4]) for line in lines if line.startswith("== gate ")]
    # `free` runs beside the slow setup; `bound`, first in the list, only after it
    assert order.index("free started") < order.index("slow passed") < order.index("bound started")
    assert any(line.split()[:1] == ["slow"] and "setup, slot 2" in line
               for line in (row.strip() for row in lines))
    # a failed setup gate: nothing that needs it starts, and the run fails
    assert gates.main(["--setup", "quick broken", "--jobs", "2", "--gates", "bound-broken"]) == 1
    out = capsys.readouterr().out
    assert "== gate broken FAILED" in out and "gate bound-broken started" not in out


def test_cpu_by_kind_counts_a_childs_cpu_under_its_kind_once(tmp_path):
    cpu_by_kind = load_script(os.path.join("perf", "cpu_by_kind.py"), "cpu_by_kind")
    # a Python under a name of its own, so its kind (the comm) is no other process's
    burner = tmp_path / "eksops-burner"
    burner.symlink_to(sys.executable)
    burn = "import time\nend = time.process_time() + 1.5\nwhile time.process_time() < end: pass"
    code, totals, machine = cpu_by_kind.profile([str(burner), "-c", burn], 0.2)
    assert code == 0
    assert 1.3 <= totals["eksops-burner"] <= 2.5
    assert machine >= totals["eksops-burner"]
    kind_of = cpu_by_kind.kind_of
    assert kind_of(["/bin/kube-apiserver", "--etcd-servers=http://x"], "x") == "kube-apiserver"
    assert kind_of(["python3", "/v/bin/ansible-playbook", "molecule/converge.yml"], "x") == \
        "ansible-playbook"
    assert kind_of(["python3", "-m", "eksopslab.daemon", "/tmp/pytest-1"], "x") == \
        "lab daemon (moto)"
    assert kind_of(["/usr/bin/python3", "-c", "import pip"], "python3") == "python3"
