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
  - "AWS access is amazon.aws's, as for this collection's modules and inventory: O(profile),
    O(region), O(endpoint_url) and the credentials of the environment (E(AWS_ACCESS_KEY_ID),
    E(AWS_SECRET_ACCESS_KEY), E(AWS_SESSION_TOKEN), E(AWS_PROFILE)), as AWX credentials set
    them, on the controller; the Kubernetes client that runs the exec plugin must run there too
    (C(connection=local))."
  - "The token helper of the kubeconfig's C(exec) user runs in the Kubernetes client's process
    with that environment, and with C(--profile) when O(profile) is set, so every token is signed
    with the identity that described the cluster. A profile wins over access keys of the
    environment (botocore's rule for a named profile), for DescribeCluster and for the tokens. A
    profile that is not in the AWS config or credentials file fails the lookup, naming the
    profiles that are; an empty O(profile) means the environment's credentials. Access keys given to the
    lookup itself (O(access_key), O(secret_key), O(session_token) as lookup arguments) are refused:
    the helper could only get them from the kubeconfig, and no key is ever written into one."
author:
  - eksops.windows maintainers (!UNKNOWN)
options:
  _terms:
    description: EKS cluster names.
    required: true
    type: list
    elements: str
extends_documentation_fragment:
  - amazon.aws.common.plugins
  - amazon.aws.region.plugins
notes:
  - Uses boto3's usual credential chain; access keys are never written into the kubeconfig.
  - C(eks:DescribeCluster) is retried with the collection's one retry policy (as its modules and the
    P(eksops.windows.eks_clusters#inventory) inventory do), with jittered backoff, on throttling
    (C(ThrottlingException)) and server errors (C(ServerException), C(ServiceUnavailableException), ...)
    on top of botocore's own attempts. An error that remains fails the lookup with the cluster,
    region and action named. A missing cluster and AccessDenied are not retried.
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
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.plugin_utils.lookup import AWSLookupBase

from ansible_collections.eksops.windows.plugins.module_utils._eks_access import (
    ACCESS_KEY_OPTIONS,
    RETRY,
    TRANSIENT_ERROR_CODES,
)
from ansible_collections.eksops.windows.plugins.module_utils._eks_token import undefined_profiles_message

try:
    # AWSLookupBase makes the clients; HAS_BOTO3 says whether boto3 is there
    import boto3  # noqa: F401 pylint: disable=unused-import
    import botocore
    import botocore.session
    HAS_BOTO3 = True
except ImportError:
    HAS_BOTO3 = False

TOKEN_HELPER = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils", "_eks_token.py")
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


# the credential options the exec user's token helper cannot be given (see DOCUMENTATION)
KEY_OPTIONS = ("access_key", "aws_access_key_id", "aws_access_key", "secret_key",
               "aws_secret_access_key", "aws_secret_key", "session_token", "aws_session_token")


class LookupModule(AWSLookupBase):

    def run(self, terms, variables=None, **kwargs):
        if not HAS_BOTO3:
            raise AnsibleLookupError("eks_kubeconfig needs the boto3 and botocore Python packages")
        given = sorted(k for k in kwargs if k in KEY_OPTIONS and kwargs[k])
        if given:
            raise AnsibleLookupError(
                "eks_kubeconfig: %s cannot be given to the lookup: the kubeconfig's exec user makes "
                "its tokens in the Kubernetes client's process, which could get the keys only from "
                "the kubeconfig, and no key is ever written into one. Set AWS_ACCESS_KEY_ID, "
                "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN in the environment (an AWX credential "
                "does), or use profile=." % ", ".join(given))
        super(LookupModule, self).run(terms, variables, **kwargs)
        if self.get_option("profile"):
            # a named profile wins over keys of the environment, for DescribeCluster as for the
            # exec user's `--profile` (botocore's rule; amazon.aws refuses both at once, already
            # when it reads the region). They are set to "", which amazon.aws takes for "none":
            # set to None, Ansible would read them from the environment again.
            for option in ACCESS_KEY_OPTIONS:
                self.set_option(option, "")
        region = self.region
        if not region:
            raise AnsibleLookupError("eks_kubeconfig needs a region: set region= or AWS_REGION")
        profile = self.get_option("profile") or None  # a role passes "" for "no profile"
        endpoint_url = self.get_option("endpoint_url")
        if profile and profile not in botocore.session.Session().available_profiles:
            available = botocore.session.Session().available_profiles
            direct = kwargs.get("profile") or kwargs.get("aws_profile")
            source = "AWS_PROFILE" if not direct and os.environ.get("AWS_PROFILE") == profile else None
            raise AnsibleLookupError("eks_kubeconfig: " + undefined_profiles_message([profile], available, source))
        eks = self.client("eks", retry_decorator=RETRY)
        result = []
        for name in terms:
            where = "eks_kubeconfig: eks:DescribeCluster for cluster '%s' in %s" % (name, region)
            try:
                cluster = eks.describe_cluster(name=name, aws_retry=True)["cluster"]
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
