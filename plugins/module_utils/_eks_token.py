# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""EKS bearer tokens: a presigned STS GetCallerIdentity request, as EKS's authenticator takes it.

The token is ``k8s-aws-v1.`` + unpadded URL-safe base64 of the presigned URL; the signature
covers the header ``x-k8s-aws-id: <cluster name>``, so a token is good for one cluster only.
EKS honours it for 15 minutes; we treat it as good for 14.

This file only needs botocore, so it also runs as a script: the ``exec`` credential command
of the kubeconfigs that the ``eks_kubeconfig`` lookup returns. The token then goes straight to
the Kubernetes client and never into a kubeconfig, a task result or a log.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime

TOKEN_PREFIX = "k8s-aws-v1."
TOKEN_LIFETIME = datetime.timedelta(minutes=14)
CLUSTER_HEADER = "x-k8s-aws-id"
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def get_token(sts_client, cluster_name):
    """Return (token, expiry) for `cluster_name`, signed with the STS client's credentials."""

    def _take_cluster_name(params, context, **kwargs):
        context["eksops_cluster_name"] = params.pop("ClusterName")

    def _add_cluster_header(request, **kwargs):
        request.headers[CLUSTER_HEADER] = request.context["eksops_cluster_name"]

    events = sts_client.meta.events
    events.register("provide-client-params.sts.GetCallerIdentity", _take_cluster_name,
                    unique_id="eksops-take-cluster-name")
    events.register("before-sign.sts.GetCallerIdentity", _add_cluster_header,
                    unique_id="eksops-add-cluster-header")
    issued = _utcnow()
    url = sts_client.generate_presigned_url(
        "get_caller_identity", Params={"ClusterName": cluster_name},
        ExpiresIn=60, HttpMethod="GET")
    encoded = base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")
    return TOKEN_PREFIX + encoded, issued + TOKEN_LIFETIME


def undefined_profiles_message(missing, available, source=None):
    """What to say when AWS profiles are not in the AWS config or credentials file; `source`
    names where the profile came from (an environment variable, for example)."""
    return ("AWS profile %s%s %s not defined in the AWS config or credentials file (~/.aws/config, "
            "~/.aws/credentials, or AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE); profiles found: %s."
            % (", ".join("'%s'" % p for p in missing), " (from %s)" % source if source else "",
               "is" if len(missing) == 1 else "are", ", ".join(sorted(available)) or "none"))


def exec_credential(token, expiry):
    """The ExecCredential a kubeconfig ``exec`` user prints."""
    return {
        "kind": "ExecCredential",
        "apiVersion": EXEC_API_VERSION,
        "spec": {},
        "status": {
            "token": token,
            "expirationTimestamp": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    }


def _main():
    import argparse
    import json
    import os
    import sys

    import boto3  # pylint: disable=import-error
    import botocore.exceptions  # pylint: disable=import-error
    import botocore.session  # pylint: disable=import-error

    parser = argparse.ArgumentParser(description="Print an EKS ExecCredential for a cluster.")
    parser.add_argument("--cluster-name", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--profile")
    args = parser.parse_args()
    # A named profile is used with its own credentials: botocore then ignores the access keys of
    # the environment, as the modules of the collection do.
    try:
        session = boto3.session.Session(profile_name=args.profile or None, region_name=args.region)
        token, expiry = get_token(session.client("sts"), args.cluster_name)
    except botocore.exceptions.ProfileNotFound:
        source = None if args.profile else ("AWS_PROFILE" if os.environ.get("AWS_PROFILE") else "AWS_DEFAULT_PROFILE")
        profile = args.profile or os.environ.get(source)
        sys.stderr.write("eks_token: %s\n" % undefined_profiles_message(
            [profile], botocore.session.Session().available_profiles, source))
        return 1
    except botocore.exceptions.NoCredentialsError:
        sys.stderr.write("eks_token: no AWS credentials to make an EKS token for cluster '%s'%s. Set "
                         "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile with credentials.\n"
                         % (args.cluster_name, " with AWS profile '%s'" % args.profile if args.profile else ""))
        return 1
    json.dump(exec_credential(token, expiry), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
