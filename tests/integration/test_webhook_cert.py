"""vpc_webhook_cert (issue 4) against the lab: the Secret and CSRs read back through the API."""

import base64
import datetime
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from eksopslab import kube
from eksopslab.interrupt import hold_deletion
from eksopslab.testing import host_inventory, running_lab, task_results

PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks",
                        "webhook_cert.yml")
TASK = "Run vpc_webhook_cert"
SECRET = "/api/v1/namespaces/kube-system/secrets/vpc-admission-webhook-certs"
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
RENEWED = ("expiring", "expired", "garbage", "stale-csr", "modern")


@pytest.fixture(scope="module", name="lab")
def webhook_lab(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("wc")), "webhook_cert.yml") as handle:
        yield handle


def run(lab, hosts, *extra, check=False, env=None):
    return lab.run_playbook(PLAYBOOK, "-l", ",".join(hosts), *extra, check=check, env=env)


def secret(lab, name):
    return lab.get(name, SECRET)["data"]


def certificate(lab, name):
    return x509.load_pem_x509_certificate(base64.b64decode(secret(lab, name)["cert.pem"]))


def cluster_ca(lab, name):
    with open(lab.cluster(name)["pki"]["ca_file"], "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


def test_inspect_reports_without_writing(lab):
    before = lab.writes(["healthy", "none"])
    rc, parsed, raw = run(lab, ["healthy", "none"])
    assert rc == 0, raw
    results = task_results(parsed, TASK)
    facts = results["healthy"]["certificate"]
    assert facts["present"] and facts["valid_pem"] and facts["key_matches"]
    assert facts["chains_to_cluster_ca"] is True
    assert facts["serves"] == ["script"]
    assert 198 <= facts["days_left"] <= 200
    assert facts["subject"] == "CN=vpc-admission-webhook-svc.kube-system.svc"
    assert results["healthy"]["changed"] is False
    assert results["none"]["certificate"] == {"present": False}
    assert lab.writes(["healthy", "none"]) == before


def test_check_mode_says_what_it_would_issue_and_writes_nothing(lab):
    hosts = list(RENEWED) + ["healthy"]
    before, secrets = lab.writes(hosts), {n: secret(lab, n) for n in hosts}
    rc, parsed, raw = run(lab, hosts, "-e", "cert_state=present", check=True)
    assert rc == 0, raw
    results = task_results(parsed, TASK)
    assert results["expiring"]["changed"] is True
    assert results["expiring"]["renewal_reason"].startswith("the certificate expires in 4 days") \
        or results["expiring"]["renewal_reason"].startswith("the certificate expires in 5 days")
    assert results["garbage"]["renewal_reason"].startswith("cert.pem is not a PEM certificate")
    assert results["expired"]["renewal_reason"].startswith("the certificate expired on")
    assert results["healthy"]["changed"] is False
    assert lab.writes(hosts) == before
    assert {n: secret(lab, n) for n in hosts} == secrets


def test_a_csr_nothing_signs_times_out_and_leaves_the_secret_intact(lab):
    before = secret(lab, "unsigned")
    rc, parsed, _raw = run(lab, ["unsigned"], "-e", "cert_state=present", "-e", "cert_csr_api=v1",
                           "-e", "cert_wait_timeout=4")
    assert rc != 0
    msg = task_results(parsed, TASK)["unsigned"]["msg"]
    assert "was approved but not signed within 4 s" in msg, msg
    assert "was left as it was" in msg
    assert secret(lab, "unsigned") == before  # byte for byte
    names = [c["metadata"]["name"] for c in lab.get("unsigned", CSRS)["items"]]
    assert "vpc-admission-webhook-svc.kube-system" not in names  # our CSR is cleaned up


def stale_approved_csr(lab, cluster, name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    request = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stale")]))
               .sign(key, hashes.SHA256())).public_bytes(serialization.Encoding.PEM)
    api = lab.admin_api(cluster)
    csr = kube.request(api, "POST", CSRS, body={
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"request": base64.b64encode(request).decode(), "signerName": "example.com/x",
                 "usages": ["digital signature", "key encipherment", "server auth"]}})
    csr["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "Old",
                                     "message": "approved minutes ago"}]}
    kube.request(api, "PUT", f"{CSRS}/{name}/approval", body=csr)
    return kube.request(api, "GET", f"{CSRS}/{name}")["metadata"]["uid"]


def test_present_renews_what_needs_it_and_leaves_the_rest(lab):
    stale_uid = stale_approved_csr(lab, "stale-csr", "vpc-admission-webhook.kube-system")
    healthy = secret(lab, "healthy")
    rc, parsed, raw = run(lab, list(RENEWED) + ["healthy"], "-e", "cert_state=present", "-vvv")
    assert rc == 0, raw
    results = task_results(parsed, TASK)
    now = datetime.datetime.now(datetime.timezone.utc)
    for name in RENEWED:
        assert results[name]["changed"] is True, name
        cert = certificate(lab, name)
        cert.verify_directly_issued_by(cluster_ca(lab, name))
        assert datetime.timedelta(days=364) < cert.not_valid_after_utc - now \
            < datetime.timedelta(days=366), name
        service = {"eksctl": "vpc-admission-webhook",
                   "script": "vpc-admission-webhook-svc"}[results[name]["certificate"]["serves"][0]]
        assert cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == [
            service, f"{service}.kube-system", f"{service}.kube-system.svc"], name
        key = serialization.load_pem_private_key(
            base64.b64decode(secret(lab, name)["key.pem"]), password=None)
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()
        assert key.key_size == 2048
        assert base64.b64decode(secret(lab, name)["key.pem"]).decode() not in raw
        assert secret(lab, name)["key.pem"] not in raw
        assert results[name]["not_after"] == results[name]["certificate"]["not_after"]
    assert results["expiring"]["csr"] == {"name": "vpc-admission-webhook.kube-system",
                                          "api_version": "v1beta1", "signer": None}
    assert results["modern"]["csr"]["api_version"] == "v1"
    assert results["modern"]["csr"]["signer"] == "beta.eks.amazonaws.com/app-serving"
    # the approved CSR of minutes ago did not stop the renewal, and is gone
    assert all(c["metadata"]["uid"] != stale_uid for c in lab.get("stale-csr", CSRS)["items"])
    assert results["healthy"]["changed"] is False
    assert secret(lab, "healthy") == healthy


def test_second_run_changes_nothing(lab):
    hosts = list(RENEWED) + ["healthy"]
    before = lab.writes(hosts)
    rc, parsed, raw = run(lab, hosts, "-e", "cert_state=present")
    assert rc == 0, raw
    assert all(r["changed"] is False for r in task_results(parsed, TASK).values())
    assert lab.writes(hosts) == before


def test_present_without_legacy_support_is_refused(lab):
    rc, parsed, _raw = run(lab, ["none"], "-e", "cert_state=present")
    assert rc != 0
    assert "legacy support is not installed" in task_results(parsed, TASK)["none"]["msg"]


ROLE_TASK = "Renew the webhook certificate when it needs it"
PODS = "/api/v1/namespaces/default/pods"


def windows_app_pods(lab, cluster):
    return [p for p in lab.get(cluster, PODS)["items"]
            if p["metadata"].get("labels", {}).get("app") == "windows-app"
            and not p["metadata"].get("deletionTimestamp")]


def stick_owned_windows_pod(lab, cluster):
    """The Deployment's pod, as it looks on a Windows node whose webhook certificate expired."""
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=30)
    while not windows_app_pods(lab, cluster):
        assert datetime.datetime.now() < deadline, "the ReplicaSet made no pod"
    pod = windows_app_pods(lab, cluster)[0]
    pod["status"] = {"phase": "Pending", "containerStatuses": [{
        "name": "iis", "ready": False, "restartCount": 0,
        "image": "mcr.microsoft.com/windows/servercore/iis", "imageID": "",
        "state": {"waiting": {"reason": "ContainerCreating"}}}]}
    kube.request(lab.admin_api(cluster), "PUT", f"{PODS}/{pod['metadata']['name']}/status",
                 body=pod)
    return pod["metadata"]["name"], pod["metadata"]["uid"]


def restarted_at(lab, cluster, deployment):
    found = lab.get(cluster, f"/apis/apps/v1/namespaces/kube-system/deployments/{deployment}")
    return (found["spec"]["template"]["metadata"].get("annotations") or {}).get(
        "kubectl.kubernetes.io/restartedAt")


def test_cert_renew_role_restarts_the_webhook_and_recreates_stuck_pods(lab):
    hosts = ["renew-expired", "renew-soon"]
    owned, owned_uid = stick_owned_windows_pod(lab, "renew-expired")

    before, secrets = lab.writes(hosts), {n: secret(lab, n) for n in hosts}
    rc, parsed, raw = lab.run_playbook("eksops.windows.renew_cert", "-l", ",".join(hosts),
                                       check=True)
    assert rc == 0, raw
    planned = task_results(parsed, ROLE_TASK)["renew-expired"]
    assert planned["restarted"] == ["kube-system/vpc-admission-webhook-deployment"]
    assert planned["recreated_pods"] == [f"default/{owned}"]
    assert planned["stuck_bare_pods"] == ["default/one-off"]
    assert lab.writes(hosts) == before and {n: secret(lab, n) for n in hosts} == secrets

    rc, parsed, raw = lab.run_playbook("eksops.windows.renew_cert", "-l", ",".join(hosts))
    assert rc == 0, raw
    results = task_results(parsed, ROLE_TASK)
    for name in hosts:
        assert certificate(lab, name).not_valid_after_utc - datetime.datetime.now(
            datetime.timezone.utc) > datetime.timedelta(days=364)
    assert restarted_at(lab, "renew-expired", "vpc-admission-webhook-deployment")
    assert restarted_at(lab, "renew-soon", "vpc-admission-webhook")
    assert results["renew-soon"]["restarted"] == ["kube-system/vpc-admission-webhook"]
    assert results["renew-soon"]["recreated_pods"] == []  # its certificate had not expired
    assert results["renew-expired"]["recreated_pods"] == [f"default/{owned}"]
    assert results["renew-expired"]["stuck_bare_pods"] == ["default/one-off"]
    names = [p["metadata"]["name"] for p in lab.get("renew-expired", PODS)["items"]]
    assert "one-off" in names  # bare pods are listed, never deleted
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=30)
    while True:  # the ReplicaSet re-creates the deleted pod
        uids = [p["metadata"]["uid"] for p in windows_app_pods(lab, "renew-expired")]
        if uids and owned_uid not in uids:
            break
        assert datetime.datetime.now() < deadline, uids
    stats = parsed["global_custom_stats"]["eksops_windows_cert_renew"]
    assert stats["renew-expired"]["stuck_bare_pods"] == ["default/one-off"]

    before = lab.writes(hosts)
    rc, parsed, raw = lab.run_playbook("eksops.windows.renew_cert", "-l", ",".join(hosts))
    assert rc == 0, raw
    assert all(s["changed"] == 0 for s in parsed["stats"].values())
    assert lab.writes(hosts) == before


# --- issue 11 --------------------------------------------------------------------------------

SCRIPT_DEPLOYMENT = "vpc-admission-webhook-deployment"
EKSCTL_DEPLOYMENT = "vpc-admission-webhook"
SUMMARY = "Print the cluster's summary"


def sans(lab, cluster):
    return certificate(lab, cluster).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def key_matches(lab, cluster):
    key = serialization.load_pem_private_key(base64.b64decode(secret(lab, cluster)["key.pem"]),
                                             password=None)
    return key.public_key().public_numbers() == certificate(lab, cluster).public_key().public_numbers()


def csr_names(lab, cluster):
    return [c["metadata"]["name"] for c in lab.get(cluster, CSRS)["items"]]


def test_both_flavours_renew_the_service_the_webhook_configuration_points_at(lab):
    rc, parsed, raw = run(lab, ["both-flavours"], "-e", "cert_state=present", "-e", "cert_restart=true")
    assert rc == 0, raw
    result = task_results(parsed, TASK)["both-flavours"]
    assert result["service_name"] == "vpc-admission-webhook-svc", result["service_name"]
    assert result["service_source"] == "MutatingWebhookConfiguration vpc-admission-webhook-cfg"
    assert result["restarted"] == [f"kube-system/{SCRIPT_DEPLOYMENT}"]
    assert sans(lab, "both-flavours") == ["vpc-admission-webhook-svc", "vpc-admission-webhook-svc.kube-system",
                                          "vpc-admission-webhook-svc.kube-system.svc"]
    assert restarted_at(lab, "both-flavours", SCRIPT_DEPLOYMENT)
    assert restarted_at(lab, "both-flavours", EKSCTL_DEPLOYMENT) is None  # the other flavour's


def test_a_renewal_killed_after_the_secret_is_stored_is_finished_by_the_next_run(lab):
    cluster, csr_name = "interrupted", "vpc-admission-webhook-svc.kube-system"
    owned, owned_uid = stick_owned_windows_pod(lab, cluster)
    options = ("-l", cluster, "-e", "cert_state=present", "-e", "cert_restart=true",
               "-e", "cert_recreate=true")

    def approved(found):  # let the run's own approval through, then hold the CSR
        return any(c.get("type") == "Approved" for c in (found.get("status") or {}).get("conditions") or [])

    with hold_deletion(lab, cluster, CSRS, csr_name, when=approved) as held:
        killed, seen, output = lab.run_playbook_killed_after(
            cluster, lambda verb, uri, code: verb == "update" and uri.startswith(SECRET) and code == 200,
            PLAYBOOK, *options)
        assert killed, output
        assert held["held"], "the CSR was never held"
    # nothing is lost: the Secret holds a new certificate with its key; nothing was restarted
    assert key_matches(lab, cluster)
    assert certificate(lab, cluster).not_valid_after_utc - datetime.datetime.now(
        datetime.timezone.utc) > datetime.timedelta(days=364)
    assert restarted_at(lab, cluster, SCRIPT_DEPLOYMENT) is None
    assert owned_uid in [p["metadata"]["uid"] for p in windows_app_pods(lab, cluster)]
    stored = secret(lab, cluster)

    rc, parsed, raw = lab.run_playbook(PLAYBOOK, *options, check=True)
    assert rc == 0, raw
    planned = task_results(parsed, TASK)[cluster]
    assert planned["changed"] is True and planned["resumed"] is True
    assert planned["restarted"] == [f"kube-system/{SCRIPT_DEPLOYMENT}"]
    assert restarted_at(lab, cluster, SCRIPT_DEPLOYMENT) is None

    # the killed run still holds the procedure lock (it never released it): a re-run within the
    # Lease's 120 s is refused, naming that run and what to do, and writes nothing
    writes = lab.writes(cluster)
    rc, parsed, raw = lab.run_playbook(PLAYBOOK, *options)
    assert rc != 0, raw
    refused = task_results(parsed, TASK)[cluster]["msg"]
    assert "another run holds Lease kube-system/eksops-windows" in refused, refused
    assert "delete" in refused, refused
    assert [w for w in lab.writes(cluster)[len(writes):] if "/leases" not in w[1]] == []
    # the operator knows that run is dead and deletes its Lease, as the message says
    api = lab.admin_api(cluster)
    try:
        kube.request(api, "DELETE",
                     "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/eksops-windows")
    finally:
        api.close()
    rc, parsed, raw = lab.run_playbook(PLAYBOOK, *options)
    assert rc == 0, raw
    result = task_results(parsed, TASK)[cluster]
    assert result["changed"] is True and result["resumed"] is True, result
    assert result["renewal_reason"] is None and result["issued"] is False
    assert "started before the certificate" in result["restart_reason"]
    assert result["restarted"] == [f"kube-system/{SCRIPT_DEPLOYMENT}"]
    assert result["recreated_pods"] == [f"default/{owned}"]
    assert restarted_at(lab, cluster, SCRIPT_DEPLOYMENT)
    assert secret(lab, cluster) == stored  # the certificate the killed run stored is kept
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=30)
    while True:  # the ReplicaSet re-creates the deleted pod
        uids = [p["metadata"]["uid"] for p in windows_app_pods(lab, cluster)]
        if uids and owned_uid not in uids:
            break
        assert datetime.datetime.now() < deadline, uids

    before = lab.writes(cluster)
    rc, parsed, raw = lab.run_playbook(PLAYBOOK, *options)
    assert rc == 0, raw
    assert task_results(parsed, TASK)[cluster]["changed"] is False
    assert lab.writes(cluster) == before


def test_a_403_on_the_approval_deletes_the_csr_and_keeps_the_secret(lab):
    before = secret(lab, "limited")
    rc, parsed, raw = run(lab, ["limited"], "-e", "cert_state=present", "-e", "cert_force=true",
                          env=lab.aws_env("no-approver"))
    assert rc != 0, raw
    result = task_results(parsed, TASK)["limited"]
    assert "forbidden (403)" in result["msg"] and "Approving CSR" in result["msg"], result["msg"]
    assert "CSR vpc-admission-webhook.kube-system was deleted" in result["msg"]
    assert result["changed"] is False
    assert secret(lab, "limited") == before  # byte for byte
    assert "vpc-admission-webhook.kube-system" not in csr_names(lab, "limited")


def test_a_denied_deployment_patch_reports_changed_and_the_next_run_restarts(lab):
    rc, parsed, raw = run(lab, ["limited"], "-e", "cert_state=present", "-e", "cert_restart=true",
                          env=lab.aws_env("renewer"))
    assert rc != 0, raw
    result = task_results(parsed, TASK)["limited"]
    assert result["changed"] is True and result["issued"] is True, result
    assert "the certificate was renewed and stored" in result["msg"] and "forbidden (403)" in result["msg"]
    assert "EKS cluster 'limited'" in result["msg"]
    assert key_matches(lab, "limited") and restarted_at(lab, "limited", EKSCTL_DEPLOYMENT) is None

    rc, parsed, raw = run(lab, ["limited"], "-e", "cert_state=present", "-e", "cert_restart=true")
    assert rc == 0, raw
    result = task_results(parsed, TASK)["limited"]
    assert result["changed"] is True and result["resumed"] is True, result
    assert result["restarted"] == [f"kube-system/{EKSCTL_DEPLOYMENT}"]
    assert restarted_at(lab, "limited", EKSCTL_DEPLOYMENT)

    before = lab.writes("limited")
    rc, parsed, raw = run(lab, ["limited"], "-e", "cert_state=present", "-e", "cert_restart=true")
    assert rc == 0, raw
    assert task_results(parsed, TASK)["limited"]["changed"] is False
    assert lab.writes("limited") == before


def test_renew_cert_over_a_mixed_fleet_skips_clusters_without_legacy_support(lab):
    hosts = ["none", "healthy"]
    before = lab.writes(hosts)
    rc, parsed, raw = lab.run_playbook("eksops.windows.renew_cert", "-l", ",".join(hosts))
    assert rc == 0, raw
    lines = task_results(parsed, SUMMARY)
    assert lines["none"]["msg"].startswith("none: skipped, legacy support is not installed"), lines["none"]
    assert lines["healthy"]["msg"].startswith("healthy: certificate good for Service vpc-admission-webhook-svc")
    assert all(s["changed"] == 0 and s["failures"] == 0 for s in parsed["stats"].values())
    assert lab.writes(hosts) == before


REFUSED = [  # (variable, value, what the refusal says): one host of cluster 'expiring' each
    ("cert_renew_before_days", "-5", "renew_before is -5; give 0 to 364 days"),
    ("cert_renew_before_days", "400", "renew_before is 400; give 0 to 364 days"),
    ("cert_renew_rollout_timeout", "0", "rollout_timeout is 0; give 1 to 3600 seconds"),
]


def test_renew_cert_refuses_absurd_values_with_the_accepted_range(lab, tmp_path):
    region = lab.cluster("expiring")["region"]
    inventory = host_inventory(tmp_path / "absurd.yml", {
        "absurd-%d" % n: {"eks_cluster_name": "expiring", "aws_region": region, variable: value}
        for n, (variable, value, _says) in enumerate(REFUSED)})
    before = lab.writes("expiring")
    rc, parsed, raw = lab.run_playbook("eksops.windows.renew_cert", inventory=inventory)
    assert rc != 0, raw
    results = task_results(parsed, ROLE_TASK)
    assert set(results) == {"absurd-%d" % n for n in range(len(REFUSED))}, raw
    for n, (variable, value, message) in enumerate(REFUSED):
        msg = results["absurd-%d" % n]["msg"]
        assert results["absurd-%d" % n]["failed"] and message in msg, (variable, value, msg)
        assert "EKS cluster 'expiring'" in msg, msg
    assert lab.writes("expiring") == before
