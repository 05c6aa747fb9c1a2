"""What the Windows node doctor (issue 12) needs from the lab, against one start of doctor.yml:
access entries and authentication modes, the EC2 instances behind Node objects, subnets' free
addresses, Windows AMIs and their SSM public parameters, events, and hand-written aws-auth."""

import datetime

import botocore.exceptions
import pytest
import yaml

from eksopslab.testing import SCENARIOS, running_lab

REGION = "us-west-2"
ACCOUNT = "123456789012"
SSM_2022 = "/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.29/image_id"


@pytest.fixture(scope="module")
def doctor(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("doctor")), "doctor.yml") as handle:
        yield handle


def role(name):
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_authentication_modes(doctor):
    eks = doctor.boto3_client("eks", REGION)
    modes = {name: eks.describe_cluster(name=name)["cluster"]["accessConfig"]["authenticationMode"]
             for name in ("doc-ok", "doc-api-missing", "doc-both-unmapped")}
    assert modes == {"doc-ok": "CONFIG_MAP", "doc-api-missing": "API",
                     "doc-both-unmapped": "API_AND_CONFIG_MAP"}


def test_access_entries_are_listed_and_described(doctor):
    eks = doctor.boto3_client("eks", REGION)
    arns = eks.list_access_entries(clusterName="doc-api-missing")["accessEntries"]
    assert role("doc-api-missing-linux") in arns
    assert doctor.info["admin"]["arn"] in arns  # the creator's, as EKS makes it
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


def test_access_entries_are_paginated(doctor):
    eks = doctor.boto3_client("eks", REGION)
    first = eks.list_access_entries(clusterName="doc-api-missing", maxResults=1)
    assert len(first["accessEntries"]) == 1 and first["nextToken"]
    second = eks.list_access_entries(clusterName="doc-api-missing", maxResults=1,
                                     nextToken=first["nextToken"])
    assert "nextToken" not in second
    assert first["accessEntries"] + second["accessEntries"] == eks.list_access_entries(
        clusterName="doc-api-missing")["accessEntries"]


def test_create_refusals_and_delete(doctor):
    eks = doctor.boto3_client("eks", REGION)
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


def instance_of(doctor, cluster, node):
    provider = doctor.get(cluster, f"/api/v1/nodes/{node}")["spec"]["providerID"]
    assert provider.startswith(f"aws:///{REGION}")
    ec2 = doctor.boto3_client("ec2", REGION)
    return ec2.describe_instances(InstanceIds=[provider.rsplit("/", 1)[-1]])[
        "Reservations"][0]["Instances"][0]


def profile_role(doctor, instance):
    iam = doctor.boto3_client("iam", REGION)
    name = instance["IamInstanceProfile"]["Arn"].rsplit("/", 1)[-1]
    return iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"][0]["RoleName"]


def test_node_instances_carry_the_scenario_roles(doctor):
    instance = instance_of(doctor, "doc-ok", "doc-ok-win-1")
    assert instance["InstanceType"] == "m5.large" and instance.get("Platform") == "windows"
    assert profile_role(doctor, instance) == "doc-ok-win"
    assert profile_role(doctor, instance_of(doctor, "doc-ok", "doc-ok-lin-1")) == "doc-ok-linux"
    # managed node group nodes: the group's role, through the group's own eks-<uuid> profile
    managed = instance_of(doctor, "doc-api-shared", "doc-api-shared-win-1")
    assert managed["IamInstanceProfile"]["Arn"].rsplit("/", 1)[-1].startswith("eks-")
    assert profile_role(doctor, managed) == "doc-api-shared-shared"


def test_nodegroups_describe_role_release_and_ami_type(doctor):
    eks = doctor.boto3_client("eks", REGION)
    group = eks.describe_nodegroup(clusterName="doc-ami", nodegroupName="win-2019")["nodegroup"]
    assert group["nodeRole"] == role("doc-ami-win")
    assert group["releaseVersion"] == "1.29-2026.08.13" and group["version"] == "1.29"
    assert group["amiType"] == "WINDOWS_CORE_2019_x86_64"


def test_subnet_free_addresses(doctor):
    ec2 = doctor.boto3_client("ec2", REGION)
    subnets = doctor.cluster("doc-subnet-full")["subnets"]
    counts = {s["SubnetId"]: s["AvailableIpAddressCount"]
              for s in ec2.describe_subnets(SubnetIds=[subnets["full"], subnets["roomy"]])["Subnets"]}
    assert counts == {subnets["full"]: 0, subnets["roomy"]: 240}
    assert instance_of(doctor, "doc-subnet-full", "doc-subnet-full-win-1")["SubnetId"] == subnets["full"]


def test_ssm_latest_image_and_its_age(doctor):
    ssm, ec2 = doctor.boto3_client("ssm", REGION), doctor.boto3_client("ec2", REGION)
    image_id = ssm.get_parameter(Name=SSM_2022)["Parameter"]["Value"]
    image = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    assert image["OwnerId"] == "801119661308"
    assert image["Name"] == "Windows_Server-2022-English-Core-EKS_Optimized-1.29-2026.11.21"
    created = datetime.datetime.strptime(image["CreationDate"], "%Y-%m-%dT%H:%M:%S.%fZ")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert abs((now - created).days - 10) <= 1
    both = ssm.get_parameters(Names=[SSM_2022, SSM_2022.replace("2022", "2019")])["Parameters"]
    assert len(both) == 2
    assert instance_of(doctor, "doc-ok", "doc-ok-win-1")["ImageId"] == image_id


def test_a_deregistered_image_is_not_described_but_still_runs(doctor):
    ec2 = doctor.boto3_client("ec2", REGION)
    gone = doctor.info["windows_amis"][REGION]["w2022-gone"]
    assert ec2.describe_images(ImageIds=[gone])["Images"] == []
    assert instance_of(doctor, "doc-ami", "doc-ami-win-2")["ImageId"] == gone


def test_events_by_involved_object(doctor):
    events = doctor.get("doc-events", "/api/v1/namespaces/shop/events"
                        "?fieldSelector=involvedObject.name%3Diis")["items"]
    pod = doctor.get("doc-events", "/api/v1/namespaces/shop/pods/iis")
    assert [(e["reason"], e["type"], e["source"]["component"], e["reportingComponent"])
            for e in events] == [("ResourceAllocationFailed", "Warning", "vpc-resource-controller",
                                  "vpc-resource-controller")]
    assert events[0]["involvedObject"]["uid"] == pod["metadata"]["uid"]
    scheduling = doctor.get("doc-slots-full", "/api/v1/namespaces/default/events"
                            "?fieldSelector=involvedObject.name%3Diis-4")["items"]
    assert scheduling[0]["reason"] == "FailedScheduling"
    assert "1 Insufficient vpc.amazonaws.com/PrivateIPv4Address" in scheduling[0]["message"]


def test_aws_auth_raw_text_is_kept_byte_for_byte(doctor):
    with open(f"{SCENARIOS}/doctor.yml", encoding="utf-8") as handle:
        scenario = {c["name"]: c for c in yaml.safe_load(handle)["clusters"]}
    data = doctor.get("doc-cm-nogroup", "/api/v1/namespaces/kube-system/configmaps/aws-auth")["data"]
    assert data == scenario["doc-cm-nogroup"]["aws_auth_raw"]
    assert data["mapRoles"].startswith("# written by hand")


def test_windows_pods_and_capacity(doctor):
    assert "vpc.amazonaws.com/PrivateIPv4Address" not in doctor.get(
        "doc-no-capacity", "/api/v1/nodes/doc-no-capacity-win-1")["status"]["capacity"]
    assert doctor.get("doc-slots-full", "/api/v1/nodes/doc-slots-full-win-1")["status"][
        "capacity"]["vpc.amazonaws.com/PrivateIPv4Address"] == "3"
    running = doctor.get("doc-slots-full", "/api/v1/namespaces/default/pods/iis-1")
    assert running["status"]["phase"] == "Running" and running["status"]["podIP"].startswith("127.")
    assert running["metadata"]["annotations"]["vpc.amazonaws.com/PrivateIPv4Address"] == \
        running["status"]["podIP"] + "/32"
    assert running["spec"]["containers"][0]["resources"]["limits"] == {
        "vpc.amazonaws.com/PrivateIPv4Address": "1"}
    affinity = doctor.get("doc-affinity", "/api/v1/namespaces/default/pods/by-affinity")
    assert affinity["status"]["phase"] == "Pending" and "nodeName" not in affinity["spec"]
    assert "nodeSelector" not in affinity["spec"] and not affinity["spec"]["containers"][0].get("resources")
    assert doctor.get("doc-legacy-controller", "/apis/apps/v1/namespaces/kube-system/deployments/"
                      "vpc-resource-controller")["metadata"]["name"] == "vpc-resource-controller"
