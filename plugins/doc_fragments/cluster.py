# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  cluster_name:
    description:
      - Name of the EKS cluster.
      - The module calls C(eks:DescribeCluster) for it, in O(region), with the AWS credentials
        the module is given.
    type: str
    required: true
    aliases: [name]
  kubeconfig:
    description:
      - Path to a kubeconfig file, or a kubeconfig as a dictionary, to reach the Kubernetes API
        instead of the EKS token path.
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
      - When none of O(kubeconfig), O(context) and O(host) is given, the module talks to the
        endpoint from DescribeCluster, verifies TLS against the cluster CA from DescribeCluster,
        and authenticates with an EKS token made from its own AWS credentials.
    type: raw
  context:
    description:
      - The kubeconfig context to use. Can also be set with E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - URL of the Kubernetes API server, instead of the EKS endpoint. Can also be set with
        E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token for O(host) or to override the kubeconfig's credentials. Can also be set
        with E(K8S_AUTH_API_KEY).
    type: str
  ca_cert:
    description:
      - Path to a CA bundle to verify the API server's certificate with, when O(host) or a
        kubeconfig is used. Can also be set with E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  kube_validate_certs:
    description:
      - Whether to verify the API server's TLS certificate when O(host) or a kubeconfig is used.
        Unset keeps what the kubeconfig says. Can also be set with E(K8S_AUTH_VERIFY_SSL).
      - The EKS token path always verifies against the cluster CA.
    type: bool
    aliases: [kube_verify_ssl]
  cluster_identity:
    description:
      - Whether to prove, before the first Kubernetes request, that the API server that
        O(kubeconfig), O(context) or O(host) (or the E(K8S_AUTH_*) variables) lead to is the
        cluster named by O(cluster_name). A kubeconfig of one cluster exported for a fleet run
        would otherwise send every host to that one cluster.
      - V(verify) accepts the server when its TLS certificate is issued by the cluster CA from
        C(eks:DescribeCluster) (one TLS handshake), or else when its C(kube-system/kube-root-ca.crt)
        ConfigMap holds that CA (one GET, which works through proxies that present their own
        certificate). Otherwise the module fails before any write, naming the cluster and the
        server.
      - V(skip) proves nothing and warns; only for a proxy that shows neither.
      - The EKS token path (no O(kubeconfig), O(context), O(host)) is always the cluster named,
        as its endpoint and CA come from DescribeCluster.
      - Can also be set with E(EKSOPS_CLUSTER_IDENTITY).
    type: str
    choices: [verify, skip]
    default: verify
  kube_connect_timeout:
    description:
      - Seconds to wait for a TCP connection and the TLS handshake with the API server, per
        attempt. From 0.5 to 600. Can also be set with E(EKSOPS_KUBE_CONNECT_TIMEOUT).
      - A connection that cannot be made is tried again (4 more times for reads, with backoff).
    type: float
    default: 10
  kube_read_timeout:
    description:
      - Seconds to wait for the API server's answer to one request. From 0.5 to 600. Can also be
        set with E(EKSOPS_KUBE_READ_TIMEOUT).
      - A request that times out is not sent again, so a frozen API server costs one timeout.
    type: float
    default: 30
requirements:
  - kubernetes >= 29, < 37
notes:
  - The EKS token is a presigned STS C(GetCallerIdentity) request; it never appears in results
    or logs. The AWS identity must be the cluster creator or be mapped in the C(aws-auth)
    ConfigMap or an access entry.
  - A O(profile) given to the module (the collection's roles pass the host's C(aws_profile))
    is used with its own credentials for every AWS call and the EKS token, even when the
    environment has access keys (E(AWS_ACCESS_KEY_ID), ...), as botocore does for a named
    profile. A profile that is not in the AWS config or credentials file fails with the
    profiles that are.
"""
