"""Windows AMI drift and expiry (_windows_ami.py) and the doctor's summary (_doctor.py), through the
real ClusterReads over a fake API server and Stubbers."""

import datetime

import pytest

from ansible_collections.eksops.windows.plugins.module_utils import (
    _doctor as doctor,
    _procedure as procedure,
    _windows_ami as windows_ami,
)
from ansible_collections.eksops.windows.plugins.module_utils._assessment import finding
from ansible_collections.eksops.windows.plugins.module_utils._reads import ClusterReads
from fakes import FakeApiServer, FakeClients, node

TODAY = datetime.date(2026, 12, 1)
PARAMETER = "/aws/service/ami-windows-latest/Windows_Server-%s-English-Core-EKS_Optimized-1.29/image_id"


def image(image_id, name, created):
    return {"ImageId": image_id, "Name": name, "CreationDate": created.strftime("%Y-%m-%dT10:00:00.000Z")}


def days_ago(days):
    return TODAY - datetime.timedelta(days=days)


@pytest.mark.parametrize("text, day", [
    ("1.29-2026.09.10", datetime.date(2026, 9, 10)), ("1.29.3-20260910", datetime.date(2026, 9, 10)),
    ("Windows_Server-2022-English-Core-EKS_Optimized-1.29-2026-09-10", datetime.date(2026, 9, 10)),
    ("no date", None), (None, None)])
def test_release_dates(text, day):
    assert windows_ami.release_date(text) == day


def test_four_months_of_retention():
    assert windows_ami.add_months(datetime.date(2026, 10, 31), 4) == datetime.date(2027, 2, 28)
    assert windows_ami.days_left(datetime.date(2026, 8, 1), TODAY) == 0
    assert windows_ami.days_left(datetime.date(2026, 7, 1), TODAY) == -30
    assert windows_ami.days_left(None, TODAY) is None
    assert windows_ami.image_facts("Windows_Server-2019-English-Full-EKS_Optimized-1.29-2026.11.19") == (
        "2019", "Full", "1.29", datetime.date(2026, 11, 19))
    assert windows_ami.image_facts("amzn2-ami-hvm") is None


def clients_for(server, nodegroups=(), instances=(), images=(), parameters=None):
    clients = FakeClients(server)
    eks = clients.stub("eks")
    eks.add_response("list_nodegroups", {"nodegroups": [g["nodegroupName"] for g in nodegroups]})
    for group in nodegroups:
        eks.add_response("describe_nodegroup", {"nodegroup": group})
    return clients


def windows_node(name, instance, nodegroup=None):
    found = node(name, "windows")
    found["spec"] = {"providerID": "aws:///us-west-2a/%s" % instance}
    if nodegroup:
        found["metadata"]["labels"][procedure.NODEGROUP_LABEL] = nodegroup
    return found


def test_a_managed_group_behind_the_latest_and_self_managed_images():
    server = FakeApiServer(node("lin-1"), windows_node("mng-1", "i-000000000000000a1", "win-ng"),
                           windows_node("old-1", "i-000000000000000b1"), windows_node("old-2", "i-000000000000000b2"),
                           windows_node("gone-1", "i-000000000000000c1"))
    clients = FakeClients(server)
    eks, ec2, ssm = clients.stub("eks"), clients.stub("ec2"), clients.stub("ssm")
    eks.add_response("list_nodegroups", {"nodegroups": ["win-ng"]})
    eks.add_response("describe_nodegroup", {"nodegroup": {
        "nodegroupName": "win-ng", "amiType": "WINDOWS_CORE_2019_x86_64", "version": "1.29",
        "releaseVersion": "1.29-%s" % days_ago(110).strftime("%Y.%m.%d"), "nodeRole": "arn:aws:iam::1:role/r"}})
    latest_2019 = image("ami-2019new", "Windows_Server-2019-English-Core-EKS_Optimized-1.29-%s"
                        % days_ago(12).strftime("%Y.%m.%d"), days_ago(12))
    ssm.add_response("get_parameter", {"Parameter": {"Name": PARAMETER % "2019", "Value": "ami-2019new"}},
                     {"Name": PARAMETER % "2019"})
    ec2.add_response("describe_images", {"Images": [latest_2019]},
                     {"Filters": [{"Name": "image-id", "Values": ["ami-2019new"]}]})
    ec2.add_response("describe_instances", {"Reservations": [{"Instances": [
        {"InstanceId": "i-000000000000000b1", "ImageId": "ami-old"},
        {"InstanceId": "i-000000000000000b2", "ImageId": "ami-old"},
        {"InstanceId": "i-000000000000000c1", "ImageId": "ami-gone"}]}]})
    old = image("ami-old", "Windows_Server-2022-English-Core-EKS_Optimized-1.29-%s"
                % days_ago(130).strftime("%Y.%m.%d"), days_ago(130))
    ec2.add_response("describe_images", {"Images": [old]},
                     {"Filters": [{"Name": "image-id", "Values": ["ami-gone", "ami-old"]}]})
    ssm.add_response("get_parameter", {"Parameter": {"Name": PARAMETER % "2022", "Value": "ami-2022new"}},
                     {"Name": PARAMETER % "2022"})
    ec2.add_response("describe_images", {"Images": [image(
        "ami-2022new", "Windows_Server-2022-English-Core-EKS_Optimized-1.29-%s" % days_ago(10).strftime("%Y.%m.%d"),
        days_ago(10))]}, {"Filters": [{"Name": "image-id", "Values": ["ami-2022new"]}]})

    result = doctor.examine(ClusterReads(clients), checks=("ami",), now=datetime.datetime(2026, 12, 1, 12))
    by_name = dict((r["name"], r) for r in result["ami"])
    group = by_name["win-ng"]
    # 12 days left: expiring comes before outdated (the latest is named in the detail)
    assert (group["status"], group["days_left"], group["windows_server"]) == ("expiring", 12, "2019")
    assert "(latest 1.29-" in group["detail"]
    assert group["latest_release_version"] == "1.29-%s" % days_ago(12).strftime("%Y.%m.%d")
    assert by_name["old-1 (+1 more)"]["status"] == "expired" and by_name["old-1 (+1 more)"]["days_left"] < 0
    assert by_name["old-1 (+1 more)"]["nodes"] == ["old-1", "old-2"]
    assert by_name["gone-1"]["status"] == "not_visible"
    ids = [f["id"] for f in result["findings"]]
    assert ids == ["windows_ami_expired", "windows_ami_expiring", "windows_server_2019"]
    summary = result["summary"]
    assert (summary["ami_expired"], summary["ami_expiring"], summary["ami_min_days_left"]) == (
        2, 1, windows_ami.days_left(days_ago(130), TODAY))
    assert summary["identity_gaps"] is None and summary["pods_without_ip"] is None
    assert clients.aws_writes() == []
    for stub in clients.stubbers.values():
        stub.assert_no_pending_responses()


def test_a_group_on_the_latest_release_with_time_left_is_current():
    server = FakeApiServer(windows_node("mng-1", "i-000000000000000a1", "win-ng"))
    clients = FakeClients(server)
    released = days_ago(10).strftime("%Y.%m.%d")
    clients.stub("eks").add_response("list_nodegroups", {"nodegroups": ["win-ng"]})
    clients.stub("eks").add_response("describe_nodegroup", {"nodegroup": {
        "nodegroupName": "win-ng", "amiType": "WINDOWS_FULL_2022_x86_64", "releaseVersion": "1.29-" + released}})
    clients.stub("ssm").add_client_error("get_parameter", "ParameterNotFound", http_status_code=400)
    [record] = windows_ami.drift(ClusterReads(clients), 30, TODAY)
    assert (record["status"], record["latest_release_version"]) == ("current", None)
    assert "latest unknown" in record["detail"]
    assert windows_ami.findings_of([record], finding) == []


def test_the_warning_days_are_data_with_a_range():
    assert procedure.AMI_WARNING_DAYS == 30 and procedure.AMI_WARNING_RANGE == (1, 365)
    assert procedure.WINDOWS_AMI_RETENTION_MONTHS == 4
    assert set(procedure.AMI_TYPE_IMAGE) == set(procedure.WINDOWS_AMI_TYPES)


def test_a_group_one_release_behind_with_time_left_is_outdated():
    server = FakeApiServer(windows_node("mng-1", "i-000000000000000a1", "win-ng"))
    clients = FakeClients(server)
    clients.stub("eks").add_response("list_nodegroups", {"nodegroups": ["win-ng"]})
    clients.stub("eks").add_response("describe_nodegroup", {"nodegroup": {
        "nodegroupName": "win-ng", "amiType": "WINDOWS_CORE_2022_x86_64",
        "releaseVersion": "1.29-" + days_ago(40).strftime("%Y.%m.%d")}})
    clients.stub("ssm").add_response("get_parameter", {"Parameter": {"Value": "ami-new"}})
    clients.stub("ec2").add_response("describe_images", {"Images": [image(
        "ami-new", "Windows_Server-2022-English-Core-EKS_Optimized-1.29-" + days_ago(10).strftime("%Y.%m.%d"),
        days_ago(10))]})
    [record] = windows_ami.drift(ClusterReads(clients), 30, TODAY)
    assert record["status"] == "outdated" and record["days_left"] > 30
    assert [f["id"] for f in windows_ami.findings_of([record], finding)] == ["windows_ami_outdated"]


def test_a_refused_image_read_is_unknown_not_expired():
    server = FakeApiServer(windows_node("self-1", "i-000000000000000b1"))
    clients = FakeClients(server)
    clients.stub("eks").add_response("list_nodegroups", {"nodegroups": []})
    clients.stub("ec2").add_response("describe_instances", {"Reservations": [{"Instances": [
        {"InstanceId": "i-000000000000000b1", "ImageId": "ami-old"}]}]})
    clients.stub("ec2").add_client_error("describe_images", "UnauthorizedOperation", http_status_code=403)
    reads = ClusterReads(clients)
    [record] = windows_ami.drift(reads, 30, TODAY)
    assert record["status"] == "unknown" and "refused" in record["detail"]
    assert windows_ami.findings_of([record], finding) == []
    assert "ec2:DescribeImages failed (UnauthorizedOperation)" in reads.incomplete
