"""Two runs on one cluster at once (issue 11, item 7) against the lab: real ansible-playbook
processes started together, the Lease kube-system/eksops-windows read back through the API,
writes counted in the API server's audit log and the lab's AWS audit log."""

import base64
import datetime
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from eksopslab import kube
from eksopslab.faults import FaultProxy
from eksopslab.testing import running_lab, task_results

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks")
CERT_TASK = "Run vpc_webhook_cert"
CP_TASK = "Enable control-plane Windows support"
MODULE_TASKS = (CERT_TASK, CP_TASK, "Disable control-plane Windows support")
SECRET = "/api/v1/namespaces/kube-system/secrets/vpc-admission-webhook-certs"
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
LEASE = LEASES + "/eksops-windows"
REFUSED = "refused before its first write"


@pytest.fixture(scope="module", name="lab")
def concurrency_lab(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("cc")), "concurrency.yml") as handle:
        yield handle


def at_once(lab, *runs, env=None):
    """Start every (playbook, args) run at the same moment (one ansible-playbook process each)
    and wait for all: their (rc, parsed, raw) in order."""
    with ThreadPoolExecutor(len(runs)) as pool:
        futures = [pool.submit(lab.run_playbook, playbook, *args, env=env) for playbook, args in runs]
        return [f.result() for f in futures]


def host_result(parsed, cluster):
    """The module result of `cluster` in a run (vpc_webhook_cert or eks_windows_support)."""
    for play in parsed["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].split(" : ", 1)[-1] in MODULE_TASKS and cluster in task["hosts"]:
                return task["hosts"][cluster]
    raise AssertionError("no module result for %s" % cluster)


def secret(lab, name):
    return lab.get(name, SECRET)["data"]


def policy_attached(lab, name):
    cluster = lab.cluster(name)
    iam = lab.boto3_client("iam", cluster["region"])
    role = cluster["role_arn"].rsplit("/", 1)[1]
    return any(p["PolicyArn"].endswith("/AmazonEKSVPCResourceController")
               for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"])


def ipam(lab, name):
    return lab.get(name, "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni")["data"]["enable-windows-ipam"]


def lease_of(lab, name):
    found = [item for item in lab.get(name, LEASES)["items"] if item["metadata"]["name"] == "eksops-windows"]
    return found[0] if found else None


def put_lease(lab, name, holder, renewed):
    """A Lease as another run leaves it: `holder` renewed it at `renewed` (a datetime)."""
    api = lab.admin_api(name)
    try:
        current = lease_of(lab, name)
        stamp = renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "eksops-windows", "namespace": "kube-system",
                             "annotations": {"eksops.windows/procedure": "disable (eks_windows_support)"}},
                "spec": {"holderIdentity": holder, "leaseDurationSeconds": 120,
                         "acquireTime": stamp, "renewTime": stamp}}
        if current:
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return kube.request(api, "PUT", LEASE, body=body)
        return kube.request(api, "POST", LEASES, body=body)
    finally:
        api.close()


def matching_certificate(lab, name):
    """The Secret's certificate, after checking that its key matches and it is a fresh one."""
    data = secret(lab, name)
    cert = x509.load_pem_x509_certificate(base64.b64decode(data["cert.pem"]))
    key = serialization.load_pem_private_key(base64.b64decode(data["key.pem"]), None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc) > datetime.timedelta(days=364)
    return data


def test_two_renewals_at_once_one_writes_the_other_is_refused_and_the_secret_matches(lab):
    """Rounds until the two runs overlapped (5 days left, then renew_before=400 so that a fresh
    certificate is renewed again): every round leaves a matching key and no CSR of ours; in
    the overlapping one exactly one wrote and the other was refused with the message."""
    playbook = os.path.join(PLAYBOOKS, "webhook_cert.yml")
    overlapped = None
    for round_ in range(4):
        before = secret(lab, "renew-twice")
        args = ("-l", "renew-twice", "-e", "cert_state=present", "-e",
                "cert_renew_before=%d" % (30 if round_ == 0 else 400))
        runs = at_once(lab, (playbook, args), (playbook, args))
        results = [host_result(parsed, "renew-twice") for _rc, parsed, _raw in runs]
        refused = [r for r in results if r.get("failed")]
        assert len(refused) <= 1, [r["msg"] for r in refused]  # the old code: both fail, key mismatch
        for result in refused:
            assert REFUSED in result["msg"], result["msg"]
        for (rc, _p, _r), result in zip(runs, results):
            if result.get("failed"):
                continue
            assert rc == 0, results
            # two runs that did not overlap: in the first round (renew_before=30) the later one
            # finds the certificate the earlier one issued, fresh, and has nothing to do
            assert result["changed"] or (round_ == 0 and result["certificate"]["days_left"] >= 364), results
        assert any(r.get("changed") for r in results), results
        assert matching_certificate(lab, "renew-twice") != before
        names = [c["metadata"]["name"] for c in lab.get("renew-twice", CSRS)["items"]]
        assert "vpc-admission-webhook.kube-system" not in names  # no CSR of ours left behind
        assert "holderIdentity" not in lease_of(lab, "renew-twice")["spec"]  # released
        if refused:
            overlapped = refused[0]
            break
    assert overlapped, "the two renewals never overlapped in 4 rounds"
    msg = overlapped["msg"]
    for part in ("EKS cluster 'renew-twice'", "webhook certificate (vpc_webhook_cert) " + REFUSED,
                 "Lease kube-system/eksops-windows", "Nothing was written"):
        assert part in msg, msg
    # The refusal names the holder ("... and run again") or, when the other run took the Lease
    # after this one began reading, says "Run <procedure> again"; the other run's CSR is its own.
    assert "and run again" in msg or "Run webhook certificate (vpc_webhook_cert) again" in msg, msg
    assert "delete it yourself" not in msg, msg
    assert overlapped["lease"]["procedure"] == "webhook certificate (vpc_webhook_cert)"


def half_enable(lab, name):
    """The policy attached, enable-windows-ipam "false": both enable and disable have work."""
    cluster = lab.cluster(name)
    iam = lab.boto3_client("iam", cluster["region"])
    iam.attach_role_policy(RoleName=cluster["role_arn"].rsplit("/", 1)[1],
                           PolicyArn="arn:aws:iam::aws:policy/AmazonEKSVPCResourceController")
    api = lab.admin_api(name)
    try:
        kube.request(api, "PATCH", "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni",
                     body={"data": {"enable-windows-ipam": "false"}},
                     content_type="application/merge-patch+json")
    finally:
        api.close()


@pytest.fixture(name="slow_iam")
def slow_iam_fixture(lab):
    """IAM through the lab's fault proxy, its ListAttachedRolePolicies answered 4 s late: the
    run that holds the Lease reads the cluster role's policies inside it, so it holds the Lease
    that long, and a run started with it reaches the Lease in that time even on a loaded
    machine (both started at once missed each other 4 rounds in a row with make test's gates
    running side by side). Only IAM: EKS tokens are presigned for moto's own address."""
    with FaultProxy(lab.info["aws_endpoint"]) as proxy:
        proxy.fail("ListAttachedRolePolicies", "slow", seconds=4)
        yield proxy


def test_enable_and_disable_at_once_leave_policy_and_configmap_agreeing(lab, slow_iam):
    """Rounds until the two runs overlapped (two processes on a shared machine may not): in
    every round both exit as they should and the cluster ends consistent; in the overlapping
    one exactly one wrote and the other was refused."""
    overlapped = None
    for _round in range(4):
        half_enable(lab, "toggle")
        assert policy_attached(lab, "toggle") and ipam(lab, "toggle") == "false"
        runs = at_once(lab, ("eksops.windows.enable", ("-l", "toggle")),
                       ("eksops.windows.disable", ("-l", "toggle")),
                       env={"AWS_ENDPOINT_URL_IAM": slow_iam.url})
        results = [host_result(parsed, "toggle") for _rc, parsed, _raw in runs]
        attached, value = policy_attached(lab, "toggle"), ipam(lab, "toggle")
        assert (attached, value) in ((True, "true"), (False, "false")), (attached, value, results)
        refused = [r for r in results if r.get("failed")]
        for result in refused:
            assert REFUSED in result["msg"] or "took over" in result["msg"], result["msg"]
        assert len(refused) <= 1, [r["msg"] for r in refused]
        assert all(r.get("failed") or rc == 0 for (rc, _p, _r), r in zip(runs, results))
        if refused:
            overlapped = (refused[0], [r for r in results if not r.get("failed")][0])
            break
    assert overlapped, "the two runs never overlapped in 4 rounds"
    refused, winner = overlapped
    assert "EKS cluster 'toggle'" in refused["msg"] and "Nothing was written" in refused["msg"]
    assert winner["changed"] is True
    assert "holderIdentity" not in lease_of(lab, "toggle")["spec"]
    assert [c["fault"] for c in slow_iam.calls("ListAttachedRolePolicies")][:1] == ["slow"]


def test_a_lease_of_a_dead_run_is_taken_over(lab):
    long_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    put_lease(lab, "held", "dead-host/pid-1/0123456789ab", long_ago)
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "held")
    assert rc == 0, raw
    result = task_results(parsed, CP_TASK)["held"]
    assert result["changed"] is True
    assert policy_attached(lab, "held") and ipam(lab, "held") == "true"
    assert any("took over the stale" in w and "dead-host/pid-1/0123456789ab" in w
               for w in result.get("warnings", [])), result.get("warnings")
    left = lease_of(lab, "held")
    assert "holderIdentity" not in left["spec"] and left["spec"]["leaseTransitions"] == 1
    assert left["metadata"]["annotations"]["eksops.windows/procedure"] == "enable (eks_windows_support)"


def test_a_lease_of_a_live_run_refuses_and_nothing_is_written(lab):
    now = datetime.datetime.now(datetime.timezone.utc)
    put_lease(lab, "held", "live-host/pid-2/ba9876543210", now)
    writes, aws_writes = lab.writes("held"), lab.aws_writes()
    rc, parsed, raw = lab.run_playbook("eksops.windows.disable", "-l", "held")
    assert rc == 2, raw
    result = host_result(parsed, "held")
    msg = result["msg"]
    for part in ("EKS cluster 'held'", "disable (eks_windows_support) " + REFUSED,
                 "disable (eks_windows_support) by live-host/pid-2/ba9876543210",
                 now.strftime("%Y-%m-%dT%H:%M:%S"), "expires", "Nothing was written",
                 "kubectl -n kube-system delete lease eksops-windows", "120 s"):
        assert part in msg, msg
    assert lab.writes("held") == writes  # the Lease untouched, the ConfigMap too
    assert lab.aws_writes() == aws_writes  # the policy stays attached
    assert policy_attached(lab, "held") and ipam(lab, "held") == "true"
    assert lease_of(lab, "held")["spec"]["holderIdentity"] == "live-host/pid-2/ba9876543210"

    rc, parsed, raw = lab.run_playbook("eksops.windows.disable", "-l", "held", "--check")
    assert rc == 0, raw
    planned = host_result(parsed, "held")
    assert any("would be refused" in w for w in planned.get("warnings", [])), planned
    assert lab.writes("held") == writes
