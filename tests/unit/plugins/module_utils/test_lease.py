"""The cluster's Lease (_lease.py): taken at the first write with resourceVersion preconditions,
refused while another run holds it, taken over when stale, renewed, released (only our own,
also on failure). Over the fake API server, so paths and preconditions are the real code's."""

import pytest

from ansible_collections.eksops.windows.plugins.module_utils import _lease as lease
from ansible_collections.eksops.windows.plugins.module_utils._errors import KubeError, LeaseError
from fakes import FakeApiServer, FakeClients, obj

NOW = 1_800_000_000.0
LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/eksops-windows"
CM = "/api/v1/namespaces/kube-system/configmaps"


class Clock:
    def __init__(self, now=NOW):
        self.now = now

    def __call__(self):
        return self.now


def record(holder="other-host/pid-7/abc", renewed=NOW - 10, duration=120, procedure="disable (eks_windows_support)"):
    spec = {"leaseDurationSeconds": duration, "leaseTransitions": 3}
    if holder:
        spec.update(holderIdentity=holder, acquireTime=lease._micro_time(renewed - 5),
                    renewTime=lease._micro_time(renewed))
    return obj("Lease", "eksops-windows", "kube-system", spec=spec,
               metadata={"name": "eksops-windows", "namespace": "kube-system",
                         "annotations": {"eksops.windows/procedure": procedure,
                                         "eksops.windows/last-holder": holder or "gone/pid-1/x"}})


def configmap():
    return obj("ConfigMap", "amazon-vpc-cni", "kube-system", data={"enable-windows-ipam": "false"})


def write(clients):
    return clients.kube.merge_patch("ConfigMap", "amazon-vpc-cni", "kube-system",
                                    {"data": {"enable-windows-ipam": "true"}})


def stored(server):
    return server.find("Lease", "eksops-windows", "kube-system")


def test_free_lease_is_created_before_the_first_write_and_released_after():
    server = FakeApiServer(configmap())
    clients = FakeClients(server)
    with lease.held(clients, "enable (eks_windows_support)", False, clock=Clock()) as guarded:
        guarded.kube.get("ConfigMap", "amazon-vpc-cni", "kube-system")
        assert server.writes == []  # reads take nothing
        write(guarded)
        assert stored(server)["spec"]["holderIdentity"]
    assert [r[0] for r in server.requests] == ["GET", "GET", "POST", "PATCH", "PUT"]
    assert server.requests[2][1] == LEASE_PATH.rsplit("/", 1)[0]
    left = stored(server)
    assert "holderIdentity" not in left["spec"]  # released, the object stays
    assert left["metadata"]["annotations"]["eksops.windows/procedure"] == "enable (eks_windows_support)"
    assert left["spec"]["leaseDurationSeconds"] == lease.DURATION


def test_a_run_with_nothing_to_write_reads_the_lease_once_and_writes_nothing():
    server = FakeApiServer(configmap(), record())
    clients = FakeClients(server)
    with lease.held(clients, "enable (eks_windows_support)", False, clock=Clock()) as guarded:
        guarded.kube.get("ConfigMap", "amazon-vpc-cni", "kube-system")
    assert server.requests == [("GET", LEASE_PATH), ("GET", CM + "/amazon-vpc-cni")]


def test_a_live_holder_refuses_the_first_write_naming_cluster_procedure_holder_and_what_to_do():
    server = FakeApiServer(configmap(), record())
    clients = FakeClients(server)
    with pytest.raises(LeaseError) as caught:
        with lease.held(clients, "enable (eks_windows_support)", False, clock=Clock()) as guarded:
            write(guarded)
    msg = caught.value.msg
    for part in ("EKS cluster 'c'", "enable (eks_windows_support) refused before its first write",
                 "Patching ConfigMap kube-system/amazon-vpc-cni", "disable (eks_windows_support)",
                 "other-host/pid-7/abc", lease._micro_time(NOW - 15), lease._micro_time(NOW + 110),
                 "in 110 s", "Nothing was written", "kubectl -n kube-system delete lease eksops-windows",
                 "120 s"):
        assert part in msg
    assert caught.value.details["lease"]["identity"] == "other-host/pid-7/abc"
    assert server.writes == []
    assert stored(server)["spec"]["holderIdentity"] == "other-host/pid-7/abc"


def test_a_stale_lease_is_taken_over_with_the_read_resource_version():
    server = FakeApiServer(configmap(), record(renewed=NOW - 121))
    clients = FakeClients(server)
    with lease.held(clients, "enable (eks_windows_support)", False, clock=Clock()) as guarded:
        write(guarded)
        taken = stored(server)
        assert taken["spec"]["holderIdentity"] != "other-host/pid-7/abc"
        assert taken["spec"]["leaseTransitions"] == 4
        assert taken["spec"]["renewTime"] == lease._micro_time(NOW)
    assert [r[0] for r in server.writes] == ["PUT", "PATCH", "PUT"]
    assert any("took over the stale" in w and "other-host/pid-7/abc" in w for w in clients.warnings)


def test_race_on_create_409_refuses_naming_the_winner():
    server = FakeApiServer(configmap())
    clients = FakeClients(server)
    with pytest.raises(LeaseError) as caught:
        with lease.held(clients, "enable (eks_windows_support)", False, clock=Clock()) as guarded:
            server.put(record())  # another run creates it between our read and our write
            write(guarded)
    assert "other-host/pid-7/abc" in caught.value.msg and "Nothing was written" in caught.value.msg
    assert [r[0] for r in server.writes] == ["POST"]  # the refused create, and no write


def test_race_on_takeover_409_refuses_so_two_takers_cannot_both_win():
    server = FakeApiServer(configmap(), record(renewed=NOW - 500))
    clients = FakeClients(server)
    with pytest.raises(LeaseError) as caught:
        with lease.held(clients, "enable (eks_windows_support)", False, clock=Clock()) as guarded:
            server.put(record(holder="winner/pid-9/def", renewed=NOW))  # the other taker won
            write(guarded)
    assert "winner/pid-9/def" in caught.value.msg
    assert stored(server)["spec"]["holderIdentity"] == "winner/pid-9/def"
    assert server.find("ConfigMap", "amazon-vpc-cni", "kube-system")["data"]["enable-windows-ipam"] == "false"


def test_a_run_that_wrote_and_released_while_we_read_makes_us_refuse_not_write_stale_reads():
    server = FakeApiServer(configmap())
    clients = FakeClients(server)
    with pytest.raises(LeaseError) as caught:
        with lease.held(clients, "enable (eks_windows_support)", False, clock=Clock()) as guarded:
            server.put(record(holder=None))  # created, written, released by another run
            write(guarded)
    assert "after this run had begun reading the cluster" in caught.value.msg
    assert "disable (eks_windows_support)" in caught.value.msg and "Run enable (eks_windows_support) again" in caught.value.msg


def test_release_only_our_own():
    server = FakeApiServer(configmap())
    clients = FakeClients(server)
    with lease.held(clients, "enable (eks_windows_support)", False, clock=Clock()) as guarded:
        write(guarded)
        server.put(record(holder="thief/pid-1/x", renewed=NOW))  # someone took it over
    assert stored(server)["spec"]["holderIdentity"] == "thief/pid-1/x"
    assert any("did not release" in w for w in clients.warnings)


def test_released_on_failure_and_the_error_goes_on():
    server = FakeApiServer(configmap())
    clients = FakeClients(server)
    with pytest.raises(RuntimeError):
        with lease.held(clients, "enable (eks_windows_support)", False, clock=Clock()) as guarded:
            write(guarded)
            raise RuntimeError("a step failed")
    assert "holderIdentity" not in stored(server)["spec"]


def test_renewed_during_a_long_wait_and_a_lost_lease_stops_the_run():
    server = FakeApiServer(configmap())
    clients = FakeClients(server)
    clock = Clock()
    with pytest.raises(LeaseError) as caught:
        with lease.held(clients, "enable (eks_windows_support)", False, clock=clock) as guarded:
            write(guarded)
            clock.now += lease.RENEW_AFTER
            guarded.kube.get("ConfigMap", "amazon-vpc-cni", "kube-system")  # a poll renews first
            assert stored(server)["spec"]["renewTime"] == lease._micro_time(clock.now)
            clock.now += lease.RENEW_AFTER
            server.put(record(holder="thief/pid-1/x", renewed=clock.now))
            write(guarded)
    assert "took over" in caught.value.msg and "EKS cluster 'c'" in caught.value.msg
    assert [r[0] for r in server.writes] == ["POST", "PATCH", "PUT", "PUT"]  # no second PATCH


def test_check_mode_takes_nothing_and_warns_when_held():
    server = FakeApiServer(configmap(), record())
    clients = FakeClients(server)
    with lease.held(clients, "enable (eks_windows_support)", True, clock=Clock()) as same:
        assert same is clients
    assert server.writes == []
    assert any("would be refused" in w and "other-host/pid-7/abc" in w for w in clients.warnings)


def test_check_mode_of_an_identity_that_cannot_read_leases_warns_and_goes_on():
    server = FakeApiServer(configmap())
    server.fail("GET", "/leases/", 403)
    clients = FakeClients(server)
    with lease.held(clients, "enable (eks_windows_support)", True, clock=Clock()) as same:
        assert same is clients
    assert any("forbidden (403)" in w and "get, create and update on leases" in w for w in clients.warnings)


def test_a_real_run_that_cannot_read_leases_fails_before_any_write_naming_the_rule():
    server = FakeApiServer(configmap())
    server.fail("GET", "/leases/", 403)
    clients = FakeClients(server)
    with pytest.raises(KubeError) as caught:
        with lease.held(clients, "enable (eks_windows_support)", False, clock=Clock()) as guarded:
            write(guarded)
    assert "EKS cluster 'c'" in caught.value.msg and "get, create and update on leases in kube-system" in caught.value.msg
    assert server.writes == []


def test_a_run_that_cannot_write_reads_no_lease():
    server = FakeApiServer(configmap())
    clients = FakeClients(server)
    with lease.held(clients, "webhook certificate (vpc_webhook_cert)", False, writes=False) as same:
        assert same is clients
    assert server.requests == []


def test_aws_writes_take_the_lease_and_reads_do_not():
    server = FakeApiServer(configmap())
    clients = FakeClients(server)
    iam = clients.stub("iam")
    iam.add_response("list_attached_role_policies", {"AttachedPolicies": []}, {"RoleName": "r"})
    iam.add_response("attach_role_policy", {}, {"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/P"})
    with lease.held(clients, "enable (eks_windows_support)", False, clock=Clock()) as guarded:
        guarded.aws("iam").list_attached_role_policies(RoleName="r")
        assert server.writes == []
        guarded.aws("iam").attach_role_policy(RoleName="r", PolicyArn="arn:aws:iam::aws:policy/P")
        assert server.writes == [("POST", LEASE_PATH.rsplit("/", 1)[0])]


def test_an_aws_write_under_a_live_holder_is_never_sent():
    server = FakeApiServer(configmap(), record())
    clients = FakeClients(server)
    clients.stub("iam")  # no response queued: a call that reached the Stubber would fail differently
    with pytest.raises(LeaseError) as caught:
        with lease.held(clients, "enable (eks_windows_support)", False, clock=Clock()) as guarded:
            guarded.aws("iam").attach_role_policy(RoleName="r", PolicyArn="arn:aws:iam::aws:policy/P")
    assert "iam:AttachRolePolicy" in caught.value.msg
    assert clients.aws_writes() == []


def test_dry_runs_are_not_writes():
    server = FakeApiServer(configmap())
    clients = FakeClients(server)
    with lease.held(clients, "legacy install (eks_windows_legacy)", False, clock=Clock()) as guarded:
        guarded.kube.request("PATCH", CM + "/amazon-vpc-cni", "Dry run", body={"data": {}},
                             query={"dryRun": "All"}, content_type="application/merge-patch+json")
    assert [r for r in server.writes if "leases" in r[1]] == []
