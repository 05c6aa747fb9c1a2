"""The webhook certificate steps (module_utils/_webhook_cert.py, _csr.py) on a fake API server with
a fake EKS signer: what each step writes, that check mode writes nothing, that a converged
cluster is left alone, that a signer failure leaves the Secret byte for byte, the restart, the
bounded rollout wait, and the stuck Windows pods."""

import base64
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.eksops.windows.plugins.module_utils import (
    _certificates as certificates,
    _csr as csr,
    _lease as lease,
    _reads as reads,
    _webhook_cert as webhook_cert,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import InputError, LeaseError, StepError
from fakes import FakeApiServer, FakeClients, node, obj

KS = "kube-system"
SCRIPT_SERVICE = "vpc-admission-webhook-svc"
SCRIPT_DEPLOYMENT = "vpc-admission-webhook-deployment"
SECRET = "vpc-admission-webhook-certs"
SECRET_PATH = "/api/v1/namespaces/kube-system/secrets"
CSR_V1BETA1 = "/apis/certificates.k8s.io/v1beta1/certificatesigningrequests"
CSR_V1 = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
CSR_NAME = "vpc-admission-webhook-svc.kube-system"
NOW = datetime.datetime.now(datetime.timezone.utc)
KEY = certificates.new_private_key()  # one key for every certificate the tests make: fast


def _ca():
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(KEY.public_key()).serial_number(1)
            .not_valid_before(NOW - datetime.timedelta(days=10))
            .not_valid_after(NOW + datetime.timedelta(days=3000))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(KEY, hashes.SHA256()))
    return cert


CA_CERT = _ca()
CA_PEM = CA_CERT.public_bytes(serialization.Encoding.PEM)
CA_DATA = base64.b64encode(CA_PEM).decode()


def leaf(public_key, names, days_left):
    not_after = NOW + datetime.timedelta(days=days_left, hours=1)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[-1])]))
            .issuer_name(CA_CERT.subject).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_after - datetime.timedelta(days=365)).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(KEY, hashes.SHA256())).public_bytes(serialization.Encoding.PEM)


def secret(days_left=200, service=SCRIPT_SERVICE, extra=None, cert_pem=None):
    cert_pem = cert_pem or leaf(KEY.public_key(), certificates.service_dns_names(service, KS), days_left)
    data = {"cert.pem": base64.b64encode(cert_pem).decode(),
            "key.pem": base64.b64encode(certificates.private_key_pem(KEY)).decode()}
    data.update(extra or {})
    return obj("Secret", SECRET, KS, apiVersion="v1", type="Opaque", data=data)


class SigningApiServer(FakeApiServer):
    """The fake API server with EKS's signer: an approved CSR gets a certificate for its public
    key and SANs, signed by the cluster CA for a year (`signer='sign'`); `'fail'` marks it
    Failed; `'never'` leaves it approved and unsigned."""

    def __init__(self, *objects, signer="sign"):
        super().__init__(*objects)
        self.signer = signer

    def request(self, method, url, headers, body):
        answer = super().request(method, url, headers, body)
        if method == "PUT" and url.split("?")[0].endswith("/approval") and answer[0] == 200:
            name = url.split("?")[0].split("/")[-2]
            found = self.find("CertificateSigningRequest", name)
            status = found.setdefault("status", {})
            if self.signer == "sign":
                request = x509.load_pem_x509_csr(base64.b64decode(found["spec"]["request"]))
                names = request.extensions.get_extension_for_class(
                    x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
                status["certificate"] = base64.b64encode(
                    leaf(request.public_key(), names, 365)).decode()
            elif self.signer == "fail":
                status["conditions"].append({"type": "Failed", "status": "True",
                                             "message": "signer refused the usages"})
        return answer


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def webhook_objects(*extra, service=SCRIPT_SERVICE, deployment=SCRIPT_DEPLOYMENT, rolled_out=True):
    status = {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}
    if not rolled_out:
        status.update(updatedReplicas=0, availableReplicas=0)
    return [obj("Service", service, KS),
            obj("Deployment", deployment, KS, metadata={"generation": 2},
                spec={"replicas": 1, "template": {"metadata": {}, "spec": {}}}, status=status),
            node("lin-0"), node("win-0", "windows")] + list(extra)


def clients_for(server, version="1.19"):
    return FakeClients(server, version=version, ca_data=CA_DATA)


def converge(clients, check_mode=False, **kwargs):
    kwargs.setdefault("clock", FakeClock())
    return webhook_cert.converge(reads.ClusterReads(clients), check_mode, **kwargs)


def decoded(server, key):
    return base64.b64decode(server.find("Secret", SECRET, KS)["data"][key])


def strings(thing):
    """Every string in a result, an error's details, a message."""
    if isinstance(thing, dict):
        for key, value in thing.items():
            yield str(key)
            yield from strings(value)
    elif isinstance(thing, (list, tuple)):
        for value in thing:
            yield from strings(value)
    elif thing is not None:
        yield str(thing)


def leaks(clients, *things):
    """The registered secrets (the key, as PEM and as base64) found anywhere in `things`."""
    found = list(strings(things))
    return [s for s in clients.secrets if any(s in text or s.strip() in text for text in found)]


# --- inspect and decide --------------------------------------------------------------------

def test_inspect_describes_the_certificate_and_writes_nothing():
    server = SigningApiServer(*webhook_objects(secret(200)))
    changed, result = converge(clients_for(server), state="inspect")
    assert changed is False
    facts = result["certificate"]
    assert facts["present"] and facts["key_matches"] and facts["chains_to_cluster_ca"] is True
    assert facts["serves"] == ["script"] and 199 <= facts["days_left"] <= 200
    assert result["service_name"] == SCRIPT_SERVICE and result["renewal_reason"] is None
    assert server.writes == []


def test_a_converged_cluster_is_left_alone():
    server = SigningApiServer(*webhook_objects(secret(200)))
    changed, result = converge(clients_for(server), state="present", restart_webhook=True,
                               wait_rollout=True, recreate_stuck_pods=True)
    assert changed is False and result["renewal_reason"] is None
    assert server.writes == []
    assert result["restarted"] == [] and result["recreated_pods"] == []


def test_present_without_a_webhook_service_is_refused():
    server = SigningApiServer(node("lin-0"))
    with pytest.raises(InputError, match="legacy support is not installed") as refused:
        converge(clients_for(server), state="present")
    assert refused.value.details["changed"] is False
    assert server.writes == []


def test_the_eksctl_service_is_found_when_the_script_one_is_absent():
    server = SigningApiServer(obj("Service", "vpc-admission-webhook", KS))
    _changed, result = converge(clients_for(server), state="inspect")
    assert result["service_name"] == "vpc-admission-webhook"


# --- issuing -------------------------------------------------------------------------------

def test_check_mode_decides_and_writes_nothing_not_even_a_csr():
    server = SigningApiServer(*webhook_objects(secret(5)))
    clients = clients_for(server)
    before = server.find("Secret", SECRET, KS)
    changed, result = converge(clients, True, state="present")
    assert changed is True and result["issued"] is False
    assert result["renewal_reason"] == "the certificate expires in 5 days (renew_before is 30)"
    assert result["csr"] == {"name": CSR_NAME, "api_version": "v1beta1", "signer": None}
    assert server.writes == []
    assert server.find("Secret", SECRET, KS) == before
    assert clients.secrets == []  # no key was even made
    assert webhook_cert.diff(result)["after"]["not_after"] == "(issued by the signer)"


def test_a_missing_secret_is_created_with_a_key_the_certificate_matches():
    server = SigningApiServer(*webhook_objects())
    clients = clients_for(server)
    changed, result = converge(clients, state="present")
    assert changed is True and result["issued"] is True
    assert result["renewal_reason"] == "there is no certificate"
    assert [w for w in server.writes if "secrets" in w[1]] == [("POST", SECRET_PATH)]
    key_pem, cert_pem = decoded(server, "key.pem"), decoded(server, "cert.pem")
    facts = certificates.inspect(cert_pem, key_pem, CA_PEM)
    assert facts["key_matches"] and facts["chains_to_cluster_ca"]
    assert facts["dns_names"] == certificates.service_dns_names(SCRIPT_SERVICE, KS)
    assert result["not_after"] == facts["not_after"] == result["certificate"]["not_after"]
    # the CSR went through v1beta1 (below 1.22), was approved, and is gone
    assert ("POST", CSR_V1BETA1) in server.writes
    assert ("PUT", CSR_V1BETA1 + "/" + CSR_NAME + "/approval") in server.writes
    assert server.find("CertificateSigningRequest", CSR_NAME) is None
    # the key is registered as a secret, in PEM and in the Secret's base64, and shown nowhere
    assert key_pem.decode() in clients.secrets
    assert base64.b64encode(key_pem).decode() in clients.secrets
    assert leaks(clients, result, webhook_cert.diff(result), clients.warnings) == []
    assert leaks(clients, {"shown": key_pem.decode()})  # the check itself would see one
    # a second run writes nothing
    server.requests.clear()
    changed, _result = converge(clients_for(server), state="present")
    assert changed is False and server.writes == []


def test_an_existing_secret_is_replaced_keeping_its_other_keys():
    server = SigningApiServer(*webhook_objects(secret(-3, extra={"ca.crt": "a2VwdA=="})))
    _changed, result = converge(clients_for(server), state="present")
    assert result["renewal_reason"].startswith("the certificate expired on")
    assert [w for w in server.writes if "secrets" in w[1]] == [("PUT", SECRET_PATH + "/" + SECRET)]
    assert server.find("Secret", SECRET, KS)["data"]["ca.crt"] == "a2VwdA=="
    assert certificates.inspect(decoded(server, "cert.pem"))["days_left"] >= 364


def test_a_stale_approved_csr_of_the_same_name_is_replaced_first():
    stale = obj("CertificateSigningRequest", CSR_NAME, spec={"request": "c3RhbGU="},
                status={"conditions": [{"type": "Approved", "status": "True"}]})
    server = SigningApiServer(*webhook_objects(secret(5), stale))
    stale_uid = server.find("CertificateSigningRequest", CSR_NAME)["metadata"]["uid"]
    changed, result = converge(clients_for(server), state="present")
    assert changed is True and result["issued"] is True
    csr_writes = [w for w in server.writes if "certificatesigningrequests" in w[1]]
    assert csr_writes[:2] == [("DELETE", CSR_V1BETA1 + "/" + CSR_NAME), ("POST", CSR_V1BETA1)]
    # the certificate stored is the new one, not one the stale CSR carried
    assert certificates.inspect(decoded(server, "cert.pem"), decoded(server, "key.pem"))["key_matches"]
    assert all(o["metadata"]["uid"] != stale_uid for (k, _ns, _n), o in server.objects.items()
               if k == "CertificateSigningRequest")


def test_from_1_22_the_csr_goes_through_v1_with_the_app_serving_signer():
    server = SigningApiServer(*webhook_objects())
    _changed, result = converge(clients_for(server, version="1.29"), state="present")
    assert result["csr"] == {"name": CSR_NAME, "api_version": "v1",
                             "signer": "beta.eks.amazonaws.com/app-serving"}
    assert ("POST", CSR_V1) in server.writes


@pytest.mark.parametrize("signer,message", [
    ("fail", "the signer refused CSR"),
    ("never", "was approved but not signed within 60 s"),
])
def test_a_signer_failure_leaves_the_secret_byte_for_byte(signer, message):
    server = SigningApiServer(*webhook_objects(secret(5, extra={"other": "eA=="})), signer=signer)
    clients = clients_for(server)
    before = json.dumps(server.find("Secret", SECRET, KS), sort_keys=True)
    clock = FakeClock()
    with pytest.raises(csr.CsrError) as failed:
        converge(clients, state="present", restart_webhook=True, clock=clock)
    assert message in failed.value.msg
    assert "was left as it was" in failed.value.msg
    assert failed.value.details["changed"] is False
    assert json.dumps(server.find("Secret", SECRET, KS), sort_keys=True) == before
    assert not [w for w in server.writes if "secrets" in w[1] or "deployments" in w[1]]
    assert server.find("CertificateSigningRequest", CSR_NAME) is None  # ours is cleaned up
    if signer == "never":
        assert 60 <= sum(clock.slept) <= 62  # bounded, and fast with a fake clock
    assert leaks(clients, failed.value.msg, failed.value.details) == []


def test_a_certificate_that_does_not_match_is_not_stored():
    server = SigningApiServer(*webhook_objects(secret(5)))
    clients = clients_for(server)
    original = server.request

    def wrong_names(method, url, headers, body):
        answer = original(method, url, headers, body)
        found = server.find("CertificateSigningRequest", CSR_NAME)
        if found and (found.get("status") or {}).get("certificate"):
            found["status"]["certificate"] = base64.b64encode(
                leaf(KEY.public_key(), ["other"], 365)).decode()
        return answer

    server.request = wrong_names
    before = server.find("Secret", SECRET, KS)
    with pytest.raises(csr.CsrError, match="not usable"):
        converge(clients, state="present")
    assert server.find("Secret", SECRET, KS) == before


# --- after the renewal: restart, rollout, stuck pods ---------------------------------------

def test_restart_annotates_the_pod_template_and_check_mode_does_not():
    for check_mode in (True, False):
        server = SigningApiServer(*webhook_objects(secret(5)))
        changed, result = converge(clients_for(server), check_mode, state="present",
                                   restart_webhook=True)
        assert changed is True
        assert result["restarted"] == ["kube-system/" + SCRIPT_DEPLOYMENT]
        template = server.find("Deployment", SCRIPT_DEPLOYMENT, KS)["spec"]["template"]
        annotations = template["metadata"].get("annotations") or {}
        if check_mode:
            assert server.writes == [] and annotations == {}
        else:
            assert webhook_cert.RESTARTED_AT in annotations
            assert ("PATCH", "/apis/apps/v1/namespaces/kube-system/deployments/" + SCRIPT_DEPLOYMENT) \
                in server.writes


def test_restart_of_a_missing_deployment_warns():
    server = SigningApiServer(obj("Service", SCRIPT_SERVICE, KS), secret(5))
    clients = clients_for(server)
    _changed, result = converge(clients, state="present", restart_webhook=True)
    assert result["restarted"] == []
    assert "does not exist; nothing restarted" in clients.warnings[0]


def test_the_rollout_wait_returns_once_rolled_out():
    server = SigningApiServer(*webhook_objects(secret(5)))
    clock = FakeClock()
    changed, _result = converge(clients_for(server), state="present", restart_webhook=True,
                                wait_rollout=True, clock=clock)
    assert changed is True and clock.slept == []


def test_the_rollout_wait_is_bounded_and_its_timeout_reports_what_was_done():
    server = SigningApiServer(*webhook_objects(secret(5), rolled_out=False))
    clients = clients_for(server)
    clock = FakeClock()
    with pytest.raises(StepError) as failed:
        converge(clients, state="present", restart_webhook=True, wait_rollout=True,
                 rollout_timeout=30, clock=clock)
    error = failed.value
    assert error.details["changed"] is True
    assert error.details["issued"] is True
    assert error.details["restarted"] == ["kube-system/" + SCRIPT_DEPLOYMENT]
    assert "renewed and stored" in error.msg and "did not finish rolling out within 30 s" in error.msg
    assert 30 <= sum(clock.slept) <= 32
    assert leaks(clients, error.msg, error.details) == []
    # the Secret was written: the new certificate is there
    assert certificates.inspect(decoded(server, "cert.pem"))["days_left"] >= 364


def test_check_mode_does_not_wait_for_a_rollout():
    server = SigningApiServer(*webhook_objects(secret(5), rolled_out=False))
    clock = FakeClock()
    changed, _result = converge(clients_for(server), True, state="present", restart_webhook=True,
                                wait_rollout=True, clock=clock)
    assert changed is True and clock.slept == [] and server.writes == []


def stuck(name, owned, node_name=None, selector=None, reason="ContainerCreating", namespace="default"):
    spec = {"containers": [{"name": "c"}]}
    if node_name:
        spec["nodeName"] = node_name
    if selector:
        spec["nodeSelector"] = selector
    meta = {}
    if owned:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": "rs", "controller": True}]
    return obj("Pod", name, namespace, metadata=meta, spec=spec, status={
        "phase": "Pending", "containerStatuses": [{"name": "c", "state": {"waiting": {"reason": reason}}}]})


PODS = [
    stuck("on-windows-node", owned=True, node_name="win-0"),  # no selector: the node decides
    stuck("asks-for-windows", owned=True, selector={"kubernetes.io/os": "windows"}),
    stuck("bare", owned=False, node_name="win-0"),
    stuck("on-linux-node", owned=True, node_name="lin-0", selector={"kubernetes.io/os": "windows"}),
    stuck("pulling", owned=True, node_name="win-0", reason="ImagePullBackOff"),
]


def test_is_stuck_windows_pod_uses_the_node_or_the_spec():
    windows = {"win-0"}
    assert [p["metadata"]["name"] for p in PODS if webhook_cert.is_stuck_windows_pod(p, windows)] == [
        "on-windows-node", "asks-for-windows", "bare"]


def test_stuck_windows_pods_after_an_expired_certificate_owned_deleted_bare_listed():
    for check_mode in (True, False):
        server = SigningApiServer(*webhook_objects(secret(-3), *PODS))
        changed, result = converge(clients_for(server), check_mode, state="present",
                                   recreate_stuck_pods=True)
        assert changed is True
        assert result["recreated_pods"] == ["default/asks-for-windows", "default/on-windows-node"]
        assert result["stuck_bare_pods"] == ["default/bare"]
        pod_writes = [w for w in server.writes if "/pods" in w[1]]
        remaining = sorted(n for (k, _ns, n) in server.objects if k == "Pod")
        if check_mode:
            assert server.writes == [] and len(remaining) == len(PODS)
        else:
            assert sorted(p for _m, p in pod_writes) == [
                "/api/v1/namespaces/default/pods/asks-for-windows",
                "/api/v1/namespaces/default/pods/on-windows-node"]
            assert remaining == ["bare", "on-linux-node", "pulling"]
        assert [r for r in server.requests if r == ("GET", "/api/v1/nodes")] == [("GET", "/api/v1/nodes")]


def test_stuck_pods_are_left_alone_when_the_old_certificate_still_worked():
    server = SigningApiServer(*webhook_objects(secret(5), *PODS))
    _changed, result = converge(clients_for(server), state="present", recreate_stuck_pods=True)
    assert result["recreated_pods"] == [] and result["stuck_bare_pods"] == []
    assert not [w for w in server.writes if "/pods" in w[1]]


def test_a_pod_gone_before_its_deletion_is_not_reported():
    server = SigningApiServer(*webhook_objects(secret(-3), PODS[0]))
    server.fail("DELETE", "/pods/on-windows-node", 404)
    _changed, result = converge(clients_for(server), state="present", recreate_stuck_pods=True)
    assert result["recreated_pods"] == []


def test_write_secret_step_in_check_mode_writes_nothing():
    server = SigningApiServer(secret(5))
    clients = clients_for(server)
    key_pem = certificates.private_key_pem(KEY)
    for current in (None, server.find("Secret", SECRET, KS)):
        changed, action = webhook_cert.write_secret_step(clients.kube, True, current, key_pem,
                                                         b"cert", clients.secrets.append)
        assert changed is True and action == ("created" if current is None else "replaced")
    assert server.writes == []


def test_a_failure_after_the_decision_in_check_mode_is_no_change():
    server = SigningApiServer(*webhook_objects(secret(5)))
    server.fail("GET", "/deployments/" + SCRIPT_DEPLOYMENT, 403)
    with pytest.raises(StepError) as failed:
        converge(clients_for(server), True, state="present", restart_webhook=True)
    assert failed.value.details["changed"] is False
    assert "renewed and stored" not in failed.value.msg
    assert server.writes == []


def test_after_renewal_failing_in_check_mode_reports_no_write():
    server = SigningApiServer(*webhook_objects(secret(-3)))
    server.fail("GET", "/api/v1/pods", 403)
    with pytest.raises(StepError) as failed:
        webhook_cert.after_renewal(reads.ClusterReads(clients_for(server)), True, SCRIPT_SERVICE,
                                   {"present": True, "expired": True}, restart_webhook=True,
                                   recreate_stuck_pods=True)
    assert failed.value.details["changed"] is False
    assert failed.value.details["restarted"] == ["kube-system/" + SCRIPT_DEPLOYMENT]
    assert server.writes == []
    # the same failure after a real restart says that the restart happened
    server.fail("GET", "/api/v1/pods", 403)
    with pytest.raises(StepError) as failed:
        webhook_cert.after_renewal(reads.ClusterReads(clients_for(server)), False, SCRIPT_SERVICE,
                                   {"present": True, "expired": True}, restart_webhook=True,
                                   recreate_stuck_pods=True)
    assert failed.value.details["changed"] is True


# --- issue 11: the Service the webhook configuration names ---------------------------------

EKSCTL_SERVICE = "vpc-admission-webhook"
EKSCTL_DEPLOYMENT = "vpc-admission-webhook"


def webhook_config(service):
    return obj("MutatingWebhookConfiguration", "vpc-admission-webhook-cfg", webhooks=[{
        "name": "vpc-admission-webhook.amazonaws.com",
        "clientConfig": {"service": {"name": service, "namespace": KS, "path": "/mutate"}}}])


def both_flavours(*extra, configured=SCRIPT_SERVICE):
    objects = webhook_objects(*extra) + [
        obj("Service", EKSCTL_SERVICE, KS),
        obj("Deployment", EKSCTL_DEPLOYMENT, KS, metadata={"generation": 1},
            spec={"replicas": 1, "template": {"metadata": {}, "spec": {}}})]
    if configured:
        objects.append(webhook_config(configured))
    return objects


def test_both_flavours_the_service_the_webhook_configuration_names_is_renewed_and_restarted():
    # eksctl's Service comes first alphabetically; the configuration points at the script's
    for check_mode in (True, False):
        server = SigningApiServer(*both_flavours(secret(5)))
        clients = clients_for(server)
        changed, result = converge(clients, check_mode, state="present", restart_webhook=True)
        assert changed is True
        assert result["service_name"] == SCRIPT_SERVICE
        assert result["service_source"] == "MutatingWebhookConfiguration vpc-admission-webhook-cfg"
        assert result["restarted"] == ["kube-system/" + SCRIPT_DEPLOYMENT]
        eksctl = server.find("Deployment", EKSCTL_DEPLOYMENT, KS)["spec"]["template"]["metadata"]
        assert "annotations" not in eksctl
        if check_mode:
            assert server.writes == []
        else:
            assert certificates.inspect(decoded(server, "cert.pem"))["dns_names"] == \
                certificates.service_dns_names(SCRIPT_SERVICE, KS)
    # the second run has nothing left to do
    server.requests.clear()
    changed, result = converge(clients_for(server), state="present", restart_webhook=True)
    assert changed is False and server.writes == [] and result["service_name"] == SCRIPT_SERVICE


def test_both_flavours_without_a_webhook_configuration_take_the_first_and_warn():
    server = SigningApiServer(*both_flavours(secret(200), configured=None))
    clients = clients_for(server)
    _changed, result = converge(clients, state="inspect")
    assert result["service_name"] == EKSCTL_SERVICE
    assert result["service_source"] == "the first webhook Service that exists"
    assert "Both install flavours' webhook Services exist" in clients.warnings[0]


def test_a_service_name_the_configuration_does_not_name_is_used_with_a_warning():
    server = SigningApiServer(*both_flavours(secret(200)))
    clients = clients_for(server)
    _changed, result = converge(clients, state="inspect", service_name=EKSCTL_SERVICE)
    assert result["service_name"] == EKSCTL_SERVICE
    assert result["service_source"] == "the service_name option"
    assert "sends pods to vpc-admission-webhook-svc" in clients.warnings[0]


# --- issue 11: options out of range, clusters without legacy support ------------------------

@pytest.mark.parametrize("option,value,accepted", [
    ("renew_before", -1, "0 to 364 days"),
    ("renew_before", 365, "0 to 364 days"),
    ("wait_timeout", 0, "1 to 3600 seconds"),
    ("rollout_timeout", 86400, "1 to 3600 seconds"),
])
def test_options_out_of_range_are_refused_before_anything_is_read(option, value, accepted):
    server = SigningApiServer(*webhook_objects(secret(5)))
    with pytest.raises(InputError) as refused:
        converge(clients_for(server), state="present", **{option: value})
    assert "%s is %s; give %s" % (option, value, accepted) in refused.value.msg
    assert "EKS cluster 'c'" in refused.value.msg
    assert refused.value.details["changed"] is False
    assert server.requests == []


def test_the_bounds_themselves_are_accepted():
    for value, renews in ((0, False), (364, True)):  # 200 days left
        server = SigningApiServer(*webhook_objects(secret(200)))
        changed, _result = converge(clients_for(server), True, state="present", renew_before=value,
                                    wait_timeout=3600, rollout_timeout=1)
        assert changed is renews and server.writes == []


def test_without_legacy_support_not_installed_skip_changes_nothing():
    for check_mode in (True, False):
        server = SigningApiServer(node("lin-0"))
        changed, result = converge(clients_for(server), check_mode, state="present",
                                   not_installed="skip", restart_webhook=True)
        assert changed is False and result["legacy_installed"] is False
        assert result["service_name"] is None and server.writes == []


# --- issue 11: the CSR is deleted on every failure path; a denied CSR says so ----------------

def test_a_403_on_the_approval_deletes_the_csr_and_leaves_the_secret():
    server = SigningApiServer(*webhook_objects(secret(5)))
    server.fail("PUT", "/approval", 403)
    before = json.dumps(server.find("Secret", SECRET, KS), sort_keys=True)
    with pytest.raises(Exception) as failed:
        converge(clients_for(server), state="present", restart_webhook=True)
    assert "forbidden (403)" in failed.value.msg
    assert "CSR %s was deleted" % CSR_NAME in failed.value.msg
    assert "EKS cluster 'c'" in failed.value.msg and failed.value.details["changed"] is False
    assert server.find("CertificateSigningRequest", CSR_NAME) is None
    assert json.dumps(server.find("Secret", SECRET, KS), sort_keys=True) == before
    assert server.writes[-1] == ("DELETE", CSR_V1BETA1 + "/" + CSR_NAME)


def test_a_secret_write_that_fails_deletes_the_csr_whose_key_is_lost():
    server = SigningApiServer(*webhook_objects(secret(5)))
    server.fail("PUT", "/secrets/" + SECRET, 409)
    with pytest.raises(Exception) as failed:
        converge(clients_for(server), state="present")
    assert "409" in failed.value.msg and "was left as it was" in failed.value.msg
    assert server.find("CertificateSigningRequest", CSR_NAME) is None


def test_a_renewal_refused_by_the_lease_leaves_the_other_runs_csr_and_says_so_once():
    """Another run took the Lease (and created its CSR) after this run began reading: this run's
    first write, the deletion of a CSR left behind, is refused, and the CSR, which is the other
    run's, is neither deleted nor named as one for the user to delete."""
    theirs = obj("CertificateSigningRequest", CSR_NAME, apiVersion="certificates.k8s.io/v1beta1",
                 spec={"request": "b3RoZXI=", "usages": ["server auth"]})
    server = SigningApiServer(*webhook_objects(secret(5)))
    clients = clients_for(server)
    clock = FakeClock()
    with pytest.raises(LeaseError) as refused:
        with lease.held(clients, "webhook certificate (vpc_webhook_cert)", False, clock=clock.time) as guarded:
            server.put(obj("Lease", "eksops-windows", KS, apiVersion="coordination.k8s.io/v1", spec={
                "holderIdentity": "other/pid-1/x", "leaseDurationSeconds": 120,
                "acquireTime": lease._micro_time(clock.now), "renewTime": lease._micro_time(clock.now)}))
            server.put(theirs)
            converge(guarded, state="present", clock=clock)
    msg = refused.value.msg
    assert msg.count("refused before its first write") == 1 and "Nothing was written" in msg
    assert "delete it yourself" not in msg and "leaves CSR %s to the run that holds the Lease" % CSR_NAME in msg
    assert server.find("CertificateSigningRequest", CSR_NAME)["spec"]["request"] == "b3RoZXI="
    assert [w[0] for w in server.writes] == ["POST"]  # the refused Lease create, nothing else


DENIED_FIELDS = {"f:status": {"f:conditions": {'k:{"type":"Denied"}': {".": {}, "f:type": {}}}}}


def denied(found):
    found.setdefault("status", {})["conditions"] = [
        {"type": "Denied", "status": "True", "reason": "PolicyDenied", "message": "names not allowed"}]
    found["metadata"]["managedFields"] = [
        {"manager": "kube-controller-manager", "operation": "Update", "time": "2026-01-01T00:00:00Z",
         "fieldsV1": {"f:metadata": {}}},
        {"manager": "csr-policy-approver", "operation": "Update", "time": "2026-12-01T10:00:00Z",
         "fieldsV1": DENIED_FIELDS}]


class DenyingApiServer(SigningApiServer):
    """Something denies our CSR the moment it exists (`when='created'`, so our approval meets
    a 409), or right after our approval (`when='approved'`)."""

    def __init__(self, *objects, when="created"):
        super().__init__(*objects, signer="never")
        self.when = when

    def request(self, method, url, headers, body):
        answer = super().request(method, url, headers, body)
        path = url.split("?")[0]
        if (self.when == "created" and method == "POST" and path.endswith("certificatesigningrequests")) \
                or (self.when == "approved" and method == "PUT" and path.endswith("/approval")):
            found = self.find("CertificateSigningRequest", CSR_NAME)
            if self.when == "approved":
                found["status"]["conditions"] = []
            denied(found)
            self.put(found)
        return answer


@pytest.mark.parametrize("when", ["created", "approved"])
def test_a_denied_csr_says_denied_and_by_whom_not_a_permission_hint(when):
    server = DenyingApiServer(*webhook_objects(secret(5)), when=when)
    before = json.dumps(server.find("Secret", SECRET, KS), sort_keys=True)
    with pytest.raises(csr.CsrError) as failed:
        converge(clients_for(server), state="present")
    msg = failed.value.msg
    assert "CSR %s was denied by csr-policy-approver (at 2026-12-01T10:00:00Z)" % CSR_NAME in msg, msg
    assert "reason PolicyDenied: names not allowed" in msg
    assert "409" not in msg and "needs update on" not in msg
    assert server.find("CertificateSigningRequest", CSR_NAME) is None
    assert json.dumps(server.find("Secret", SECRET, KS), sort_keys=True) == before


# --- issue 11: a renewal interrupted after the Secret was written is finished -----------------

def ts(delta):
    return (NOW + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def aged(item, delta):
    item["metadata"]["creationTimestamp"] = ts(delta)
    return item


def webhook_with_pods(*extra):
    """The script flavour's webhook with a selector and a pod of yesterday, a stuck owned
    Windows pod of yesterday, a bare one, and a stuck one created in an hour (after any
    certificate a test stores)."""
    labels = {"app": "vpc-admission-webhook"}
    objects = webhook_objects(*extra)
    objects[1]["spec"]["selector"] = {"matchLabels": labels}
    objects += [
        aged(obj("Pod", "webhook-old", KS, metadata={"labels": labels}, spec={}), -datetime.timedelta(days=1)),
        aged(stuck("win-app", owned=True, node_name="win-0"), -datetime.timedelta(days=1)),
        aged(stuck("bare", owned=False, node_name="win-0"), -datetime.timedelta(days=1)),
        aged(stuck("later", owned=True, node_name="win-0"), datetime.timedelta(hours=1)),
    ]
    return objects


def interrupted(server, **options):
    """A first run that stores the Secret and fails at the restart (a 403 on the patch)."""
    server.fail("PATCH", "/deployments/" + SCRIPT_DEPLOYMENT, 403)
    with pytest.raises(StepError) as failed:
        converge(clients_for(server), state="present", restart_webhook=True,
                 recreate_stuck_pods=True, **options)
    return failed.value


def test_a_run_that_wrote_the_secret_and_failed_at_the_restart_reports_changed():
    server = SigningApiServer(*webhook_with_pods(secret(-3)))
    error = interrupted(server)
    assert error.details["changed"] is True and error.details["issued"] is True
    assert "EKS cluster 'c': the certificate was renewed and stored" in error.msg
    assert "forbidden (403)" in error.msg and "Re-run to finish" in error.msg
    stored = server.find("Secret", SECRET, KS)["metadata"]["annotations"]
    assert stored[webhook_cert.PREVIOUS_UNUSABLE] == "true"
    assert abs(webhook_cert.parse_time(stored[webhook_cert.ISSUED_AT]) - NOW) < datetime.timedelta(minutes=5)


def test_the_next_run_restarts_the_webhook_and_recreates_the_stuck_pods_then_nothing():
    server = SigningApiServer(*webhook_with_pods(secret(-3)))
    interrupted(server)
    secret_before = json.dumps(server.find("Secret", SECRET, KS), sort_keys=True)
    options = dict(state="present", restart_webhook=True, recreate_stuck_pods=True)
    # check mode says what it would finish and writes nothing
    server.requests.clear()
    changed, result = converge(clients_for(server), True, **options)
    assert changed is True and result["resumed"] is True and result["renewal_reason"] is None
    assert result["restarted"] == ["kube-system/" + SCRIPT_DEPLOYMENT]
    assert result["recreated_pods"] == ["default/win-app"]
    assert server.writes == []
    # the run finishes the renewal
    changed, result = converge(clients_for(server), **options)
    assert changed is True and result["resumed"] is True and result["issued"] is False
    assert "its pods webhook-old started before the certificate" in result["restart_reason"]
    assert result["restarted"] == ["kube-system/" + SCRIPT_DEPLOYMENT]
    assert result["recreated_pods"] == ["default/win-app"]  # not "later": created after
    assert result["stuck_bare_pods"] == ["default/bare"]
    assert webhook_cert.RESTARTED_AT in server.find("Deployment", SCRIPT_DEPLOYMENT, KS)[
        "spec"]["template"]["metadata"]["annotations"]
    assert json.dumps(server.find("Secret", SECRET, KS), sort_keys=True) == secret_before
    # and the third run has nothing to do (the old webhook pod is still there: the annotation says
    # it was restarted after the certificate)
    server.requests.clear()
    changed, result = converge(clients_for(server), **options)
    assert changed is False and result["resumed"] is False and server.writes == []
    assert result["restarted"] == [] and result["recreated_pods"] == []


def test_a_rollout_timeout_then_a_rerun_does_not_restart_again():
    server = SigningApiServer(*webhook_with_pods(secret(5)))
    server.find("Deployment", SCRIPT_DEPLOYMENT, KS)["status"]["availableReplicas"] = 0
    with pytest.raises(StepError) as failed:
        converge(clients_for(server), state="present", restart_webhook=True, wait_rollout=True,
                 rollout_timeout=10)
    assert failed.value.details["changed"] is True
    server.requests.clear()
    changed, result = converge(clients_for(server), state="present", restart_webhook=True)
    assert changed is False and server.writes == [] and result["restarted"] == []


def test_a_good_certificate_with_a_webhook_started_after_it_is_left_alone():
    labels = {"app": "vpc-admission-webhook"}
    objects = webhook_objects(secret(200))
    objects[1]["spec"]["selector"] = {"matchLabels": labels}
    objects.append(aged(obj("Pod", "webhook-new", KS, metadata={"labels": labels}, spec={}),
                        -datetime.timedelta(days=1)))  # the certificate is from 165 days ago
    server = SigningApiServer(*objects)
    changed, result = converge(clients_for(server), state="present", restart_webhook=True,
                               recreate_stuck_pods=True)
    assert changed is False and result["restart_reason"] is None and server.writes == []


@pytest.mark.parametrize("stamp,pending", [
    (ts(-datetime.timedelta(days=200)), True),        # restarted before the certificate
    (ts(datetime.timedelta(seconds=1)), False),       # restarted after it
    ((NOW + datetime.timedelta(hours=1)).astimezone(
        datetime.timezone(datetime.timedelta(hours=2))).isoformat(), False),  # kubectl's offset form
])
def test_restart_pending_compares_the_restart_annotation(stamp, pending):
    deployment = webhook_objects()[1]
    deployment["spec"]["template"]["metadata"]["annotations"] = {webhook_cert.RESTARTED_AT: stamp}
    server = SigningApiServer(deployment)
    reason = webhook_cert.restart_pending(clients_for(server).kube, SCRIPT_DEPLOYMENT, NOW)
    assert bool(reason) is pending
    if pending:
        assert "is older than the certificate" in reason


def test_write_secret_step_marks_the_secret_and_keeps_other_annotations():
    server = SigningApiServer(secret(5))
    server.find("Secret", SECRET, KS)["metadata"]["annotations"] = {"team": "net"}
    clients = clients_for(server)
    webhook_cert.write_secret_step(clients.kube, False, server.find("Secret", SECRET, KS),
                                   certificates.private_key_pem(KEY), b"cert", clients.secrets.append,
                                   previous_unusable=False, now=NOW)
    marks = server.find("Secret", SECRET, KS)["metadata"]["annotations"]
    assert marks == {"team": "net", webhook_cert.ISSUED_AT: ts(datetime.timedelta(0)),
                     webhook_cert.PREVIOUS_UNUSABLE: "false"}
