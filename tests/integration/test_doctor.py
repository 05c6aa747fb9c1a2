"""The Windows node doctor (issue 12) against the lab (scenario doctor.yml: one cluster per
root cause): every cause found on its cluster and only there; the identity fix in both kinds of
authentication mode, with the allow list honoured, the other aws-auth mappings kept byte for
byte, check mode writing nothing (audit logs) and a second run writing nothing; AMI days left
computed from the lab's images.

The file begins with what the doctor needs from the lab, on the same start of doctor.yml and
before any fix changes it (a 14-cluster start is a minute of both cores): access entries and
authentication modes, the EC2 instances behind Node objects, subnets' free addresses, Windows
AMIs and their SSM public parameters, events, and hand-written aws-auth."""

import datetime
import json

import botocore.exceptions
import pytest
import yaml

from eksopslab.aws import ACCOUNT
from eksopslab.testing import SCENARIOS, running_lab, task_results

PLAYBOOK = "eksops.windows.windows_doctor"
TASK = "Examine the Windows nodes, pods and AMIs of the cluster"
POD_CAUSE = {
    "doc-ipam-off": "windows_ipam_off",
    "doc-legacy-controller": "legacy_controller_present",
    "doc-no-policy": "cluster_role_lacks_policy",
    "doc-no-capacity": "node_without_ipv4_capacity",
    "doc-affinity": "pod_lacks_ipv4_request",
    "doc-slots-full": "node_ipv4_slots_full",
    "doc-subnet-full": "subnet_out_of_addresses",
    "doc-events": "controller_event",
}
IDENTITY = {
    "doc-cm-nogroup": (["windows_node_role_without_kube_proxy_windows"], "aws_auth"),
    "doc-api-missing": (["windows_node_role_unmapped"], "access_entry"),
    "doc-api-shared": (["windows_node_role_wrong_access_entry", "windows_node_role_shared_in_api_mode"], None),
    "doc-both-unmapped": (["windows_node_role_unmapped"], "access_entry"),
}
CLUSTERS = ["doc-ok", "doc-ami"] + sorted(POD_CAUSE) + sorted(IDENTITY)
AWS_AUTH = "/api/v1/namespaces/kube-system/configmaps/aws-auth"
REGION = "us-west-2"
SSM_2022 = "/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.29/image_id"


@pytest.fixture(scope="module", name="lab")
def doctor_lab(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("doctor")), "doctor.yml") as handle:
        yield handle


@pytest.fixture(scope="module", name="audit")
def fleet_audit(lab):
    """One read-only run over every cluster of the scenario (what the tests below read)."""
    before = lab.writes(CLUSTERS)
    aws_before = len(lab.aws_writes())
    rc, parsed, raw = lab.run_playbook(PLAYBOOK, "-l", ",".join(CLUSTERS))
    assert rc == 0, raw
    results = task_results(parsed, TASK)
    assert sorted(results) == sorted(CLUSTERS)
    assert lab.writes(CLUSTERS) == before, "a read-only doctor run wrote to Kubernetes"
    assert len(lab.aws_writes()) == aws_before, "a read-only doctor run wrote to AWS"
    return results


def run(lab, host, check=False, **variables):
    args = ["-l", host]
    if variables:
        args += ["-e", json.dumps({"windows_doctor_" + k: v for k, v in variables.items()})]
    rc, parsed, raw = lab.run_playbook(PLAYBOOK, *args, check=check)
    return rc, (task_results(parsed, TASK).get(host) if rc == 0 else None), raw


# --- what the doctor needs from the lab (before any fix below changes it) -----------------

def role(name):
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_authentication_modes(lab):
    eks = lab.boto3_client("eks", REGION)
    modes = {name: eks.describe_cluster(name=name)["cluster"]["accessConfig"]["authenticationMode"]
             for name in ("doc-ok", "doc-api-missing", "doc-both-unmapped")}
    assert modes == {"doc-ok": "CONFIG_MAP", "doc-api-missing": "API",
                     "doc-both-unmapped": "API_AND_CONFIG_MAP"}


def test_access_entries_are_listed_and_described(lab):
    eks = lab.boto3_client("eks", REGION)
    arns = eks.list_access_entries(clusterName="doc-api-missing")["accessEntries"]
    assert role("doc-api-missing-linux") in arns
    assert lab.info["admin"]["arn"] in arns  # the creator's, as EKS makes it
    assert role("doc-api-missing-win") not in arns
    entry = eks.describe_access_entry(clusterName="doc-api-shared",
                                      principalArn=role("doc-api-shared-shared"))["accessEntry"]
    assert entry["type"] == "EC2_LINUX" and entry["kubernetesGroups"] == []
    assert entry["username"] == "system:node:{{EC2PrivateDNSName}}"
    assert entry["accessEntryArn"].startswith(
        f"arn:aws:eks:{REGION}:{ACCOUNT}:access-entry/doc-api-shared/role/{ACCOUNT}/doc-api-shared-shared/")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        eks.describe_access_entry(clusterName="doc-api-missing", principalArn=role("doc-api-missing-win"))
    assert error_code(excinfo) == "ResourceNotFoundException"


def test_access_entries_are_paginated(lab):
    eks = lab.boto3_client("eks", REGION)
    first = eks.list_access_entries(clusterName="doc-api-missing", maxResults=1)
    assert len(first["accessEntries"]) == 1 and first["nextToken"]
    second = eks.list_access_entries(clusterName="doc-api-missing", maxResults=1,
                                     nextToken=first["nextToken"])
    assert "nextToken" not in second
    assert first["accessEntries"] + second["accessEntries"] == eks.list_access_entries(
        clusterName="doc-api-missing")["accessEntries"]


def test_create_refusals_and_delete(lab):
    eks = lab.boto3_client("eks", REGION)
    win = role("doc-both-unmapped-win")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        eks.create_access_entry(clusterName="doc-ok", principalArn=role("doc-ok-win"), type="EC2_WINDOWS")
    assert error_code(excinfo) == "InvalidRequestException"
    assert "must be set to one of [API, API_AND_CONFIG_MAP]" in str(excinfo.value)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        eks.create_access_entry(clusterName="doc-both-unmapped", principalArn=win, type="EC2_WINDOWS",
                                kubernetesGroups=["eks:kube-proxy-windows"])
    assert error_code(excinfo) == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        eks.create_access_entry(clusterName="doc-both-unmapped", principalArn=role("no-such-role"),
                                type="EC2_WINDOWS")
    assert error_code(excinfo) == "InvalidParameterException"
    created = eks.create_access_entry(clusterName="doc-both-unmapped", principalArn=win,
                                      type="EC2_WINDOWS")["accessEntry"]
    assert created["type"] == "EC2_WINDOWS" and created["principalArn"] == win
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        eks.create_access_entry(clusterName="doc-both-unmapped", principalArn=win, type="EC2_WINDOWS")
    assert error_code(excinfo) == "ResourceInUseException"
    eks.delete_access_entry(clusterName="doc-both-unmapped", principalArn=win)
    assert win not in eks.list_access_entries(clusterName="doc-both-unmapped")["accessEntries"]


def instance_of(lab, cluster, node):
    provider = lab.get(cluster, f"/api/v1/nodes/{node}")["spec"]["providerID"]
    assert provider.startswith(f"aws:///{REGION}")
    ec2 = lab.boto3_client("ec2", REGION)
    return ec2.describe_instances(InstanceIds=[provider.rsplit("/", 1)[-1]])[
        "Reservations"][0]["Instances"][0]


def profile_role(lab, instance):
    iam = lab.boto3_client("iam", REGION)
    name = instance["IamInstanceProfile"]["Arn"].rsplit("/", 1)[-1]
    return iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"][0]["RoleName"]


def test_node_instances_carry_the_scenario_roles(lab):
    instance = instance_of(lab, "doc-ok", "doc-ok-win-1")
    assert instance["InstanceType"] == "m5.large" and instance.get("Platform") == "windows"
    assert profile_role(lab, instance) == "doc-ok-win"
    assert profile_role(lab, instance_of(lab, "doc-ok", "doc-ok-lin-1")) == "doc-ok-linux"
    # managed node group nodes: the group's role, through the group's own eks-<uuid> profile
    managed = instance_of(lab, "doc-api-shared", "doc-api-shared-win-1")
    assert managed["IamInstanceProfile"]["Arn"].rsplit("/", 1)[-1].startswith("eks-")
    assert profile_role(lab, managed) == "doc-api-shared-shared"


def test_nodegroups_describe_role_release_and_ami_type(lab):
    eks = lab.boto3_client("eks", REGION)
    group = eks.describe_nodegroup(clusterName="doc-ami", nodegroupName="win-2019")["nodegroup"]
    assert group["nodeRole"] == role("doc-ami-win")
    assert group["releaseVersion"] == "1.29-2026.08.13" and group["version"] == "1.29"
    assert group["amiType"] == "WINDOWS_CORE_2019_x86_64"


def test_subnet_free_addresses(lab):
    ec2 = lab.boto3_client("ec2", REGION)
    subnets = lab.cluster("doc-subnet-full")["subnets"]
    counts = {s["SubnetId"]: s["AvailableIpAddressCount"]
              for s in ec2.describe_subnets(SubnetIds=[subnets["full"], subnets["roomy"]])["Subnets"]}
    assert counts == {subnets["full"]: 0, subnets["roomy"]: 240}
    assert instance_of(lab, "doc-subnet-full", "doc-subnet-full-win-1")["SubnetId"] == subnets["full"]


def test_ssm_latest_image_and_its_age(lab):
    ssm, ec2 = lab.boto3_client("ssm", REGION), lab.boto3_client("ec2", REGION)
    image_id = ssm.get_parameter(Name=SSM_2022)["Parameter"]["Value"]
    image = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    assert image["OwnerId"] == "801119661308"
    assert image["Name"] == "Windows_Server-2022-English-Core-EKS_Optimized-1.29-2026.11.21"
    created = datetime.datetime.strptime(image["CreationDate"], "%Y-%m-%dT%H:%M:%S.%fZ")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert abs((now - created).days - 10) <= 1
    both = ssm.get_parameters(Names=[SSM_2022, SSM_2022.replace("2022", "2019")])["Parameters"]
    assert len(both) == 2
    assert instance_of(lab, "doc-ok", "doc-ok-win-1")["ImageId"] == image_id


def test_a_deregistered_image_is_not_described_but_still_runs(lab):
    ec2 = lab.boto3_client("ec2", REGION)
    gone = lab.info["windows_amis"][REGION]["w2022-gone"]
    assert ec2.describe_images(ImageIds=[gone])["Images"] == []
    assert instance_of(lab, "doc-ami", "doc-ami-win-2")["ImageId"] == gone


def test_events_by_involved_object(lab):
    events = lab.get("doc-events", "/api/v1/namespaces/shop/events"
                     "?fieldSelector=involvedObject.name%3Diis")["items"]
    pod = lab.get("doc-events", "/api/v1/namespaces/shop/pods/iis")
    assert [(e["reason"], e["type"], e["source"]["component"], e["reportingComponent"])
            for e in events] == [("ResourceAllocationFailed", "Warning", "vpc-resource-controller",
                                  "vpc-resource-controller")]
    assert events[0]["involvedObject"]["uid"] == pod["metadata"]["uid"]
    scheduling = lab.get("doc-slots-full", "/api/v1/namespaces/default/events"
                         "?fieldSelector=involvedObject.name%3Diis-4")["items"]
    assert scheduling[0]["reason"] == "FailedScheduling"
    assert "1 Insufficient vpc.amazonaws.com/PrivateIPv4Address" in scheduling[0]["message"]


def test_aws_auth_raw_text_is_kept_byte_for_byte(lab):
    with open(f"{SCENARIOS}/doctor.yml", encoding="utf-8") as handle:
        scenario = {c["name"]: c for c in yaml.safe_load(handle)["clusters"]}
    data = lab.get("doc-cm-nogroup", "/api/v1/namespaces/kube-system/configmaps/aws-auth")["data"]
    assert data == scenario["doc-cm-nogroup"]["aws_auth_raw"]
    assert data["mapRoles"].startswith("# written by hand")


def test_windows_pods_and_capacity(lab):
    assert "vpc.amazonaws.com/PrivateIPv4Address" not in lab.get(
        "doc-no-capacity", "/api/v1/nodes/doc-no-capacity-win-1")["status"]["capacity"]
    assert lab.get("doc-slots-full", "/api/v1/nodes/doc-slots-full-win-1")["status"][
        "capacity"]["vpc.amazonaws.com/PrivateIPv4Address"] == "3"
    running = lab.get("doc-slots-full", "/api/v1/namespaces/default/pods/iis-1")
    assert running["status"]["phase"] == "Running" and running["status"]["podIP"].startswith("127.")
    assert running["metadata"]["annotations"]["vpc.amazonaws.com/PrivateIPv4Address"] == \
        running["status"]["podIP"] + "/32"
    assert running["spec"]["containers"][0]["resources"]["limits"] == {
        "vpc.amazonaws.com/PrivateIPv4Address": "1"}
    affinity = lab.get("doc-affinity", "/api/v1/namespaces/default/pods/by-affinity")
    assert affinity["status"]["phase"] == "Pending" and "nodeName" not in affinity["spec"]
    assert "nodeSelector" not in affinity["spec"] and not affinity["spec"]["containers"][0].get("resources")
    assert lab.get("doc-legacy-controller", "/apis/apps/v1/namespaces/kube-system/deployments/"
                   "vpc-resource-controller")["metadata"]["name"] == "vpc-resource-controller"


# --- the doctor ---------------------------------------------------------------------------

def test_each_pod_cause_is_found_on_its_cluster_and_only_there(audit):
    for cluster, result in sorted(audit.items()):
        causes = sorted(set(p["cause"] for p in result["pods"]))
        if cluster in POD_CAUSE:
            assert causes == [POD_CAUSE[cluster]], (cluster, result["pods"])
            assert result["summary"]["pods_without_ip"] == len(result["pods"]) >= 1
            assert "windows_pods_without_ip" in [f["id"] for f in result["findings"]]
            for pod in result["pods"]:
                assert pod["remedy"] and pod["detail"], pod
        else:
            assert causes == [], (cluster, result["pods"])
            assert result["summary"]["pods_without_ip"] == 0


def test_the_events_are_the_evidence(audit):
    [sandbox] = audit["doc-ipam-off"]["pods"]
    assert any("PrivateIPv4Address" in (e["message"] or "") for e in sandbox["events"]), sandbox
    [controller] = audit["doc-events"]["pods"]
    assert controller["events"] and controller["events"][0]["source"] == "vpc-resource-controller"
    slots = list(audit["doc-slots-full"]["pods"])
    assert any("Insufficient" in p["detail"] or "addresses in use" in p["detail"] for p in slots)


def test_each_identity_gap_is_found_on_its_cluster_and_only_there(audit):
    for cluster, result in sorted(audit.items()):
        identity = result["identity"]
        gaps = [r for r in identity["roles"] if r["problems"]]
        assert identity["unresolved"] == [], (cluster, identity["unresolved"])
        if cluster in IDENTITY:
            problems, fix = IDENTITY[cluster]
            assert len(gaps) == 1, (cluster, identity)
            assert gaps[0]["problems"] == problems and gaps[0]["fix"]["kind"] == fix, gaps[0]
            assert gaps[0]["fix"]["action"] == ("manual" if fix is None else "not_allowed")
        else:
            assert gaps == [], (cluster, gaps)
            assert identity["roles"], "every doctor cluster has a Windows node role"
    assert audit["doc-api-shared"]["identity"]["authentication_mode"] == "API"
    assert audit["doc-both-unmapped"]["identity"]["authentication_mode"] == "API_AND_CONFIG_MAP"


def test_the_fleet_report_shows_the_doctor_columns(lab, tmp_path):
    rc, _parsed, raw = lab.run_playbook("eksops.windows.fleet_report", "-l", "doc-cm-nogroup,doc-ok,doc-ami",
                                        "-e", "fleet_report_dir=%s" % tmp_path)
    assert rc == 0, raw
    report = json.loads((tmp_path / "fleet-report.json").read_text())
    records = dict((r["name"], r) for r in report["clusters"])
    # the assessment itself reports the identity gap ...
    assert "windows_node_role_without_kube_proxy_windows" in [f["id"] for f in records["doc-cm-nogroup"]["findings"]]
    assert not [f for f in records["doc-ok"]["findings"] if f["id"].startswith("windows_node")]
    # ... and the doctor's summary feeds the columns
    assert records["doc-cm-nogroup"]["doctor"]["identity_gaps"] == 1
    assert records["doc-ok"]["doctor"]["identity_gaps"] == 0
    assert records["doc-ami"]["doctor"]["ami_min_days_left"] < 0
    html = (tmp_path / "fleet-report.html").read_text()
    assert "doc-cm-nogroup" in html


def test_ami_days_left_come_from_the_lab_images(audit):
    records = dict((r["name"], r) for r in audit["doc-ami"]["ami"])
    group = [r for r in records.values() if r["kind"] == "nodegroup"]
    assert len(group) == 1 and group[0]["windows_server"] == "2019"
    assert group[0]["latest_release_version"] and group[0]["status"] in ("outdated", "expiring")
    # released 110 days ago, four months of retention: 2 weeks or so left
    assert 0 <= group[0]["days_left"] <= 15, group[0]
    statuses = sorted(r["status"] for r in records.values() if r["kind"] == "instance")
    assert statuses == ["expired", "not_visible"], records
    expired = [r for r in records.values() if r["status"] == "expired"][0]
    assert -15 <= expired["days_left"] < 0 and expired["windows_server"] == "2022"
    ids = [f["id"] for f in audit["doc-ami"]["findings"]]
    assert "windows_ami_expired" in ids and "windows_server_2019" in ids
    assert audit["doc-ami"]["summary"]["ami_min_days_left"] == min(
        r["days_left"] for r in records.values() if r["days_left"] is not None)
    for cluster in ("doc-ok",):
        assert [r["status"] for r in audit[cluster]["ami"]] == ["current"], audit[cluster]["ami"]


def test_config_map_fix_check_mode_allow_list_bytes_and_second_run(lab):
    cluster = "doc-cm-nogroup"
    before = lab.get(cluster, AWS_AUTH)["data"]
    writes = lab.writes([cluster])
    # check mode: the diff, no write
    rc, result, raw = run(lab, cluster, check=True, state="fixed", identity_fix_allowed=["*-win*"])
    assert rc == 0, raw
    [role] = [r for r in result["identity"]["roles"] if r["problems"]]
    assert role["fix"]["action"] == "would_fix"
    assert lab.writes([cluster]) == writes
    # not allowed: nothing
    rc, result, raw = run(lab, cluster, state="fixed", identity_fix_allowed=["nobody-*"])
    assert rc == 0 and result["changed"] is False, raw
    assert [r["fix"]["action"] for r in result["identity"]["roles"] if r["problems"]] == ["not_allowed"]
    assert lab.writes([cluster]) == writes
    # fixed
    rc, result, raw = run(lab, cluster, state="fixed", identity_fix_allowed=[role["role_arn"]])
    assert rc == 0 and result["changed"] is True, raw
    after = lab.get(cluster, AWS_AUTH)["data"]
    assert after["mapUsers"] == before["mapUsers"]
    old_items, new_items = yaml.safe_load(before["mapRoles"]), yaml.safe_load(after["mapRoles"])
    assert len(old_items) == len(new_items)
    changed = [i for i, (a, b) in enumerate(zip(old_items, new_items)) if a != b]
    assert len(changed) == 1 and "eks:kube-proxy-windows" in new_items[changed[0]]["groups"]
    # every other mapping keeps its bytes: the text outside the changed item is the same
    for line in before["mapRoles"].splitlines():
        if role["role_name"] not in line and not line.strip().startswith(("- system:", "groups")):
            assert line in after["mapRoles"], line
    fixed_writes = lab.writes([cluster])[cluster]
    assert len([w for w in fixed_writes[len(writes[cluster]):] if "aws-auth" in w[1]]) == 1, fixed_writes
    # second run: no gap, no aws-auth write (only the Lease of a fixed run)
    rc, result, raw = run(lab, cluster, state="fixed", identity_fix_allowed=[role["role_arn"]])
    assert rc == 0 and result["changed"] is False, raw
    assert not [r for r in result["identity"]["roles"] if r["problems"]]
    assert [w for w in lab.writes([cluster])[cluster][len(fixed_writes):] if "aws-auth" in w[1]] == []


@pytest.mark.parametrize("cluster", ["doc-api-missing", "doc-both-unmapped"])
def test_api_modes_fix_creates_one_access_entry(lab, cluster):
    eks = lab.boto3_client("eks", "us-west-2")
    entries = eks.list_access_entries(clusterName=cluster)["accessEntries"]
    aws_writes = len(lab.aws_writes())
    rc, result, raw = run(lab, cluster, check=True, state="fixed", identity_fix_allowed=["*"])
    assert rc == 0 and result["changed"] is False, raw
    assert len(lab.aws_writes()) == aws_writes
    rc, result, raw = run(lab, cluster, state="fixed", identity_fix_allowed=["*"])
    assert rc == 0 and result["changed"] is True, raw
    [role] = [r for r in result["identity"]["roles"] if r["fix"]["action"] == "fixed"]
    new = eks.list_access_entries(clusterName=cluster)["accessEntries"]
    assert sorted(set(new) - set(entries)) == [role["role_arn"]]
    entry = eks.describe_access_entry(clusterName=cluster, principalArn=role["role_arn"])["accessEntry"]
    assert entry["type"] == "EC2_WINDOWS"
    writes = len(lab.aws_writes())
    rc, result, raw = run(lab, cluster, state="fixed", identity_fix_allowed=["*"])
    assert rc == 0 and result["changed"] is False, raw
    assert len(lab.aws_writes()) == writes


def test_a_shared_role_is_reported_never_rewritten(lab):
    cluster = "doc-api-shared"
    eks = lab.boto3_client("eks", "us-west-2")
    entries = eks.list_access_entries(clusterName=cluster)["accessEntries"]
    rc, result, raw = run(lab, cluster, state="fixed", identity_fix_allowed=["*"])
    assert rc == 0 and result["changed"] is False, raw
    assert [r["fix"]["action"] for r in result["identity"]["roles"] if r["problems"]] == ["manual"]
    assert eks.list_access_entries(clusterName=cluster)["accessEntries"] == entries


def test_fixed_without_an_allow_list_is_refused(lab):
    rc, _result, raw = run(lab, "doc-cm-nogroup", state="fixed")
    assert rc != 0 and "identity_fix_allowed" in raw
