# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: eks_kubeconfig
short_description: A kubeconfig for an EKS cluster, with no AWS CLI and no token inside
version_added: 0.1.0
description:
  - Calls C(eks:DescribeCluster) for each cluster name given and returns a kubeconfig as a
    dictionary, ready for the O(kubernetes.core.k8s#module:kubeconfig) option of
    C(kubernetes.core) modules or for this collection's modules.
  - The kubeconfig holds the cluster's endpoint and CA. Its user is an C(exec) credential
    plugin that runs this collection's token helper with the controller's Python, so every
    Kubernetes client makes a fresh EKS token when it needs one. No token is ever part of the
    returned value, so none can reach a task result or a log.
  - The AWS credentials come from the environment or O(profile), on the controller; the
    Kubernetes client that runs the exec plugin must run there too (C(connection=local)).
author:
  - eksops.windows maintainers (!UNKNOWN)
options:
  _terms:
    description: EKS cluster names.
    required: true
    type: list
    elements: str
  region:
    description: AWS region of the clusters. Defaults to E(AWS_REGION) or E(AWS_DEFAULT_REGION).
    type: str
  profile:
    description:
      - AWS profile for DescribeCluster and for the token helper of the kubeconfig's C(exec) user,
        which makes every token with this profile's credentials (passed as C(--profile), so the
        access keys of the environment are not used, as botocore does for a named profile).
      - Empty or unset means the environment's credentials (E(AWS_ACCESS_KEY_ID), E(AWS_PROFILE), ...).
      - A profile that is not in the AWS config or credentials file fails with the profiles
        that are.
    type: str
  endpoint_url:
    description:
      - AWS endpoint URL for EKS and STS (for example a test endpoint). E(AWS_ENDPOINT_URL)
        works as well.
    type: str
notes:
  - Uses boto3's usual credential chain; access keys are never written into the kubeconfig.
  - C(eks:DescribeCluster) is retried with the collection's one retry policy (as its modules and the
    P(eksops.windows.eks_clusters#inventory) inventory do), with jittered backoff, on throttling
    (C(ThrottlingException)) and server errors (C(ServerException), C(ServiceUnavailableException), ...)
    on top of botocore's own attempts. An error that remains fails the lookup with the cluster,
    region and action named.
"""

EXAMPLES = r"""
- name: List pods of kube-system through kubernetes.core, with an EKS token made on the fly
  kubernetes.core.k8s_info:
    kubeconfig: "{{ lookup('eksops.windows.eks_kubeconfig', eks_cluster_name, region=aws_region) }}"
    kind: Pod
    namespace: kube-system

- name: The same with the host's AWS profile (set by the eksops.windows.eks_clusters inventory)
  kubernetes.core.k8s_info:
    kubeconfig: >-
      {{ lookup('eksops.windows.eks_kubeconfig', eks_cluster_name, region=aws_region,
                profile=aws_profile | default('')) }}
    kind: Pod
    namespace: kube-system
"""

RETURN = r"""
_raw:
  description: One kubeconfig dictionary per cluster name.
  type: list
  elements: dict
"""

import os
import sys

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.eksops.windows.plugins.module_utils.eks_access import RETRY, TRANSIENT_ERROR_CODES
from ansible_collections.eksops.windows.plugins.module_utils.eks_token import undefined_profiles_message

try:
    import boto3
    import botocore
    import botocore.session
    HAS_BOTO3 = True
except ImportError:
    HAS_BOTO3 = False

TOKEN_HELPER = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils", "eks_token.py")
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


def build_kubeconfig(cluster, region, profile=None, endpoint_url=None, python=None):
    """A kubeconfig dict for a DescribeCluster result; the user is an exec plugin."""
    name = cluster["name"]
    args = [TOKEN_HELPER, "--cluster-name", name, "--region", region]
    env = []
    if profile:
        args += ["--profile", profile]
    if endpoint_url:
        env.append({"name": "AWS_ENDPOINT_URL", "value": endpoint_url})
    user = {"exec": {
        "apiVersion": EXEC_API_VERSION,
        "command": python or sys.executable,
        "args": args,
        "interactiveMode": "Never",
        "provideClusterInfo": False,
    }}
    if env:
        user["exec"]["env"] = env
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster["arn"], "cluster": {
            "server": cluster["endpoint"],
            "certificate-authority-data": cluster["certificateAuthority"]["data"],
        }}],
        "users": [{"name": cluster["arn"], "user": user}],
        "contexts": [{"name": cluster["arn"], "context": {"cluster": cluster["arn"],
                                                          "user": cluster["arn"]}}],
        "current-context": cluster["arn"],
        "preferences": {},
    }


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        if not HAS_BOTO3:
            raise AnsibleLookupError("eks_kubeconfig needs the boto3 and botocore Python packages")
        self.set_options(var_options=variables, direct=kwargs)
        region = (self.get_option("region") or os.environ.get("AWS_REGION")
                  or os.environ.get("AWS_DEFAULT_REGION"))
        if not region:
            raise AnsibleLookupError("eks_kubeconfig needs a region: set region= or AWS_REGION")
        profile = self.get_option("profile") or None  # a role passes "" for "no profile"
        endpoint_url = self.get_option("endpoint_url")
        try:
            session = boto3.session.Session(profile_name=profile, region_name=region)
            eks = session.client("eks", endpoint_url=endpoint_url)
        except botocore.exceptions.ProfileNotFound:
            available = botocore.session.Session().available_profiles
            if profile:
                raise AnsibleLookupError("eks_kubeconfig: " + undefined_profiles_message([profile], available))
            source = "AWS_PROFILE" if os.environ.get("AWS_PROFILE") else "AWS_DEFAULT_PROFILE"
            raise AnsibleLookupError("eks_kubeconfig: " + undefined_profiles_message(
                [os.environ.get(source)], available, source))
        except botocore.exceptions.BotoCoreError as e:
            raise AnsibleLookupError("eks_kubeconfig could not set up AWS access: %s" % e)
        describe = RETRY(eks.describe_cluster)
        result = []
        for name in terms:
            where = "eks_kubeconfig: eks:DescribeCluster for cluster '%s' in %s" % (name, region)
            try:
                cluster = describe(name=name)["cluster"]
            except botocore.exceptions.ClientError as e:
                error = e.response.get("Error", {})
                code, message = error.get("Code", "Unknown"), error.get("Message", str(e))
                if code == "ResourceNotFoundException":
                    raise AnsibleLookupError(
                        "eks_kubeconfig: EKS cluster '%s' was not found in region %s (eks:DescribeCluster). "
                        "Check the cluster name and the region (region= or AWS_REGION)." % (name, region))
                raise AnsibleLookupError("%s failed (%s: %s)%s" % (where, code, message, _what_to_do(code)))
            except botocore.exceptions.NoCredentialsError:
                raise AnsibleLookupError(
                    "%s: no AWS credentials were found. Set profile=, AWS_PROFILE, or AWS_ACCESS_KEY_ID "
                    "and AWS_SECRET_ACCESS_KEY." % where)
            except botocore.exceptions.BotoCoreError as e:
                raise AnsibleLookupError(
                    "%s failed: %s. Check the network and proxy, endpoint_url or AWS_ENDPOINT_URL, and "
                    "that EKS serves this region." % (where, e))
            result.append(build_kubeconfig(cluster, region, profile, endpoint_url))
        return result


def _what_to_do(code):
    if AWSRetry.found(code, TRANSIENT_ERROR_CODES):  # what RETRY retries
        return (". AWS still answered so after the retries (throttling or a server error): run again "
                "later, or with fewer clusters at once (forks, serial).")
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
        return ". Grant eks:DescribeCluster on the cluster to these credentials, or use another profile."
    return "."
