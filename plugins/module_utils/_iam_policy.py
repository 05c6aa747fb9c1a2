# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attaching and detaching a managed policy on the cluster role, with retries and clear errors."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

from ansible_collections.eksops.windows.plugins.module_utils._eks_access import RETRY
from ansible_collections.eksops.windows.plugins.module_utils._errors import AwsError

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore itself


class RoleMissing(Exception):
    pass


@RETRY
def _list_attached(iam, role_name):
    paginator = iam.get_paginator("list_attached_role_policies")
    return paginator.paginate(RoleName=role_name).build_full_result()["AttachedPolicies"]


def list_attached(iam, role_name):
    """Every policy ARN attached to the role (all pages). Raises RoleMissing; other AWS errors
    propagate to the caller, which knows whether they are fatal (reads.ClusterReads.role)."""
    try:
        return [p["PolicyArn"] for p in _list_attached(iam, role_name)]
    except is_boto3_error_code("NoSuchEntity"):
        raise RoleMissing(role_name)


def attach(iam, role_name, arn):
    try:
        iam.attach_role_policy(RoleName=role_name, PolicyArn=arn, aws_retry=True)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        raise AwsError("Could not attach %s to IAM role %s (iam:AttachRolePolicy)"
                       % (arn, role_name), e)


def detach(iam, role_name, arn):
    """Detach; NoSuchEntity means it was not attached, which is what we wanted."""
    try:
        iam.detach_role_policy(RoleName=role_name, PolicyArn=arn, aws_retry=True)
    except is_boto3_error_code("NoSuchEntity"):
        return False
    except (botocore.exceptions.ClientError,
            botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        raise AwsError("Could not detach %s from IAM role %s (iam:DetachRolePolicy)"
                       % (arn, role_name), e)
    return True
