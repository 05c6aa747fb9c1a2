"""The lab's IAM stand-in (aws.allowed): what it evaluates, and that it fails closed on what it
does not. Pure functions: no lab is started."""

import pytest

from eksopslab import aws

CLUSTER = "arn:aws:eks:us-west-2:123456789012:cluster/prod"
ROLE = "arn:aws:iam::123456789012:role/prod-cluster-role"
POLICY_ARN = "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra):
    return dict({"Effect": "Allow", "Action": action, "Resource": resource}, **extra)


@pytest.mark.parametrize("statement, action, resource, expected", [
    (allow("eks:DescribeCluster"), "eks:DescribeCluster", CLUSTER, True),
    (allow("eks:Describe*"), "eks:DescribeCluster", CLUSTER, True),
    (allow("EKS:describecluster"), "eks:DescribeCluster", CLUSTER, True),  # case-insensitive
    (allow("eks:DescribeCluster"), "eks:ListClusters", "*", False),
    (allow("eks:DescribeCluster", "arn:aws:eks:us-west-2:123456789012:cluster/*"),
     "eks:DescribeCluster", CLUSTER, True),
    (allow("eks:DescribeCluster", "arn:aws:eks:us-west-2:123456789012:cluster/other"),
     "eks:DescribeCluster", CLUSTER, False),
    (allow("eks:DescribeCluster", CLUSTER), "ec2:DescribeInstanceTypes", "*", False),
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "eks:DescribeCluster", CLUSTER, False),
    (allow("eks:*", NotResource="x"), "eks:DescribeCluster", CLUSTER, False),
])
def test_action_and_resource(statement, action, resource, expected):
    assert aws.allowed(policy(statement), action, resource, {}) is expected


def test_an_explicit_deny_wins():
    document = policy(allow("eks:*"), {"Effect": "Deny", "Action": "eks:UpdateAddon", "Resource": "*"})
    assert aws.allowed(document, "eks:DescribeAddon", CLUSTER, {})
    assert not aws.allowed(document, "eks:UpdateAddon", CLUSTER, {})


@pytest.mark.parametrize("condition, policy_arn, expected", [
    ({"ArnEquals": {"iam:PolicyARN": POLICY_ARN}}, POLICY_ARN, True),
    ({"ArnEquals": {"iam:PolicyARN": POLICY_ARN}}, "arn:aws:iam::aws:policy/AdministratorAccess", False),
    ({"ArnLike": {"iam:PolicyARN": "arn:aws:iam::aws:policy/AmazonEKS*"}}, POLICY_ARN, True),
    ({"StringEquals": {"iam:PolicyARN": [POLICY_ARN, "x"]}}, POLICY_ARN, True),
    ({"ArnEquals": {"iam:PolicyARN": POLICY_ARN}}, None, False),  # no policy in the request
    ({"StringEquals": {"aws:RequestedRegion": "us-west-2"}}, POLICY_ARN, False),  # not evaluated
    ({"Bool": {"aws:MultiFactorAuthPresent": "true"}}, POLICY_ARN, False),  # not evaluated
])
def test_the_policy_arn_condition(condition, policy_arn, expected):
    document = policy(allow("iam:AttachRolePolicy", "arn:aws:iam::123456789012:role/*", Condition=condition))
    context = {"iam:PolicyARN": policy_arn} if policy_arn else {}
    assert aws.allowed(document, "iam:AttachRolePolicy", ROLE, context) is expected


def test_the_doctor_s_resources():
    """SSM parameters (public ones without an account) and access entries as IAM names them."""
    public = aws._parameter_arn("/aws/service/ami-windows-latest/x/image_id", "aws", "us-west-2", "123456789012")
    assert public == "arn:aws:ssm:us-west-2::parameter/aws/service/ami-windows-latest/x/image_id"
    assert aws._parameter_arn("/mine", "aws", "us-west-2", "123456789012") == \
        "arn:aws:ssm:us-west-2:123456789012:parameter/mine"
    document = policy(allow("ssm:GetParameter", "arn:aws:ssm:*::parameter/aws/service/*"))
    assert aws.allowed(document, "ssm:GetParameter", public, {})
    entry = aws._access_entry_resource("prod", ROLE, "aws", "us-west-2", "123456789012")
    assert entry == "arn:aws:eks:us-west-2:123456789012:access-entry/prod/role/123456789012/prod-cluster-role/*"
    assert aws.allowed(policy(allow("eks:DescribeAccessEntry",
                                    "arn:aws:eks:us-west-2:123456789012:access-entry/prod/*")),
                       "eks:DescribeAccessEntry", entry, {})
