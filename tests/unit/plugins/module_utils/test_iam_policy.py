import boto3
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from botocore.stub import Stubber

from ansible_collections.eksops.windows.plugins.module_utils import _iam_policy as iam_policy
from ansible_collections.eksops.windows.plugins.module_utils._eks_access import RETRY
from ansible_collections.eksops.windows.plugins.module_utils._errors import AwsError

ARN = "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController"


@pytest.fixture(name="raw_iam")
def raw_iam_client():
    return boto3.client("iam", region_name="us-east-1", aws_access_key_id="AKIAUNIT",
                        aws_secret_access_key="secret")


@pytest.fixture(name="iam")
def iam_client(raw_iam):
    """What module.client("iam", retry_decorator=RETRY) returns."""
    return RetryingBotoClientWrapper(raw_iam, RETRY)


def test_listing_retries_throttling_and_reads_every_page(iam, raw_iam):
    with Stubber(raw_iam) as stub:
        stub.add_client_error("list_attached_role_policies", "Throttling", "Rate exceeded")
        stub.add_response("list_attached_role_policies", {
            "AttachedPolicies": [{"PolicyName": "A", "PolicyArn": "arn:aws:iam::1:policy/A"}],
            "IsTruncated": True, "Marker": "m1"}, {"RoleName": "r"})
        stub.add_response("list_attached_role_policies", {
            "AttachedPolicies": [{"PolicyName": "B", "PolicyArn": ARN}],
            "IsTruncated": False}, {"RoleName": "r", "Marker": "m1"})
        assert iam_policy.list_attached(iam, "r") == [
            "arn:aws:iam::1:policy/A", ARN]
        stub.assert_no_pending_responses()


def test_missing_role_is_its_own_error(iam, raw_iam):
    with Stubber(raw_iam) as stub:
        stub.add_client_error("list_attached_role_policies", "NoSuchEntity", "no role")
        with pytest.raises(iam_policy.RoleMissing):
            iam_policy.list_attached(iam, "r")


def test_detach_of_a_policy_not_attached_is_not_an_error(iam, raw_iam):
    with Stubber(raw_iam) as stub:
        stub.add_client_error("detach_role_policy", "NoSuchEntity", "not attached")
        assert iam_policy.detach(iam, "r", ARN) is False


def test_attach_retries_throttling(iam, raw_iam):
    with Stubber(raw_iam) as stub:
        stub.add_client_error("attach_role_policy", "Throttling", "Rate exceeded")
        stub.add_response("attach_role_policy", {}, {"RoleName": "r", "PolicyArn": ARN})
        iam_policy.attach(iam, "r", ARN)
        stub.assert_no_pending_responses()


def test_access_denied_names_the_action(iam, raw_iam):
    with Stubber(raw_iam) as stub:
        stub.add_client_error("attach_role_policy", "AccessDenied", "not authorized")
        with pytest.raises(AwsError, match=r"\(iam:AttachRolePolicy\)") as raised:
            iam_policy.attach(iam, "r", ARN)
        assert raised.value.exception.response["Error"]["Code"] == "AccessDenied"
