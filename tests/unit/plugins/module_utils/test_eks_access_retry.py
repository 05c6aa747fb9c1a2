"""eks_access.RETRY, the one retry policy of every AWS call, on the EKS calls the collection
makes: EKS's throttling and server errors are retried, what another try cannot change is not.
botocore's Stubber answers every attempt; the backoff's sleeps are recorded, not slept."""

import boto3
import botocore.exceptions
import pytest
from ansible_collections.amazon.aws.plugins.module_utils import cloud
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from botocore.stub import Stubber

from ansible_collections.eksops.windows.plugins.module_utils import _eks_access as eks_access

CALLS = [
    ("list_clusters", {}, {"clusters": ["a"]}),
    ("describe_cluster", {"name": "a"}, {"cluster": {"name": "a"}}),
    ("describe_addon", {"clusterName": "a", "addonName": "vpc-cni"}, {"addon": {"addonName": "vpc-cni"}}),
]


@pytest.fixture(name="eks")
def stubbed_eks(monkeypatch):
    slept = []
    monkeypatch.setattr(cloud.time, "sleep", slept.append)
    client = boto3.client("eks", region_name="us-west-2", aws_access_key_id="AKIAUNIT", aws_secret_access_key="unit")
    with Stubber(client) as stubber:
        yield RetryingBotoClientWrapper(client, eks_access.RETRY), stubber, slept


@pytest.mark.parametrize("method, params, answer", CALLS)
@pytest.mark.parametrize("code, status", [("ThrottlingException", 400), ("ServerException", 500),
                                          ("ServiceUnavailableException", 503)])
def test_eks_throttling_and_server_errors_are_retried(eks, method, params, answer, code, status):
    client, stubber, slept = eks
    for _attempt in range(2):
        stubber.add_client_error(method, code, "again", status, expected_params=params)
    stubber.add_response(method, answer, params)
    assert getattr(client, method)(aws_retry=True, **params) == answer
    stubber.assert_no_pending_responses()
    assert len(slept) == 2


@pytest.mark.parametrize("method, params, answer", CALLS)
def test_what_another_try_cannot_change_is_not_retried(eks, method, params, answer):
    client, stubber, slept = eks
    stubber.add_client_error(method, "AccessDeniedException", "no", 403, expected_params=params)
    with pytest.raises(botocore.exceptions.ClientError):
        getattr(client, method)(aws_retry=True, **params)
    assert slept == []
