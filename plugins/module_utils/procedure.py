# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules of the EKS Windows support procedure, in one place, as data where they are data.

Source: the EKS user guide page "Windows support" of the era when legacy support still existed,
plus what the upstream projects (eksctl, amazon-vpc-resource-controller-k8s, amazon-vpc-cni-k8s)
show about object names and signers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Minimum platform version per Kubernetes minor for control-plane Windows support. Every later
# Kubernetes minor qualifies on any platform version; earlier ones never do.
CONTROL_PLANE_MINIMUM_PLATFORM = {
    (1, 17): 10,
    (1, 18): 9,
    (1, 19): 7,
    (1, 20): 3,
    (1, 21): 3,
}
ALWAYS_QUALIFIES_FROM = (1, 22)

VPC_CNI_CONFIGMAP_NAMESPACE = "kube-system"
VPC_CNI_CONFIGMAP = "amazon-vpc-cni"
WINDOWS_IPAM_KEY = "enable-windows-ipam"
VPC_RESOURCE_CONTROLLER_POLICY = "AmazonEKSVPCResourceController"

AWS_NODE_NAMESPACE = "kube-system"
AWS_NODE_DAEMONSET = "aws-node"
SECURITY_GROUPS_FOR_PODS_ENV = "ENABLE_POD_ENI"

LEGACY_NAMESPACE = "kube-system"
LEGACY_CONTROLLER = "vpc-resource-controller"
# What a legacy install leaves, per install flavour. Cluster-scoped objects have no namespace.
LEGACY_FLAVOURS = {
    "script": {
        "webhook_deployment": "vpc-admission-webhook-deployment",
        "webhook_service": "vpc-admission-webhook-svc",
        "csr": "vpc-admission-webhook-svc.kube-system",
    },
    "eksctl": {
        "webhook_deployment": "vpc-admission-webhook",
        "webhook_service": "vpc-admission-webhook",
        "csr": "vpc-admission-webhook.kube-system",
    },
}
LEGACY_SHARED = {
    "mutating_webhook_configuration": "vpc-admission-webhook-cfg",
    "secret": "vpc-admission-webhook-certs",
    "cluster_role": LEGACY_CONTROLLER,
    "cluster_role_binding": LEGACY_CONTROLLER,
    "service_account": LEGACY_CONTROLLER,
    "controller_deployment": LEGACY_CONTROLLER,
}
# Belongs to EKS itself: never delete it.
EKS_OWN_WEBHOOK = "vpc-resource-mutating-webhook"
# The kind of each entry of the two tables above, and whether it lives in LEGACY_NAMESPACE.
LEGACY_KINDS = {
    "mutating_webhook_configuration": ("MutatingWebhookConfiguration", False),
    "webhook_deployment": ("Deployment", True),
    "controller_deployment": ("Deployment", True),
    "webhook_service": ("Service", True),
    "secret": ("Secret", True),
    "csr": ("CertificateSigningRequest", False),
    "cluster_role_binding": ("ClusterRoleBinding", False),
    "cluster_role": ("ClusterRole", False),
    "service_account": ("ServiceAccount", True),
}
# Removal order: the webhook configuration first, so that the API server sends no pod creation
# to a webhook that is going away; then the workloads, what they used, and the identity last.
LEGACY_REMOVAL_ORDER = (
    "MutatingWebhookConfiguration", "Deployment", "Service", "Secret",
    "CertificateSigningRequest", "ClusterRoleBinding", "ClusterRole", "ServiceAccount",
)
# certificates.k8s.io/v1 (the API the CSRs are read and deleted through) is served from 1.19.
CERTIFICATES_V1_FROM = (1, 19)


class VersionError(ValueError):
    pass


def parse_minor(version):
    """'1.19' or 'v1.19.8-eks-96780e' -> (1, 19)."""
    match = re.match(r"^v?(\d+)\.(\d+)", str(version or ""))
    if not match:
        raise VersionError("not a Kubernetes version: %r" % (version,))
    return int(match.group(1)), int(match.group(2))


def parse_platform(platform_version):
    """'eks.10' -> 10. Platform versions compare as numbers, never as strings."""
    match = re.match(r"^eks\.(\d+)$", str(platform_version or ""))
    if not match:
        raise VersionError("not an EKS platform version: %r" % (platform_version,))
    return int(match.group(1))


def control_plane_support(version, platform_version):
    """Whether a cluster can get control-plane Windows support.

    Returns a dict: ``supported`` (bool), ``minimum_platform`` (the platform version the
    cluster's Kubernetes minor needs, or None), and ``reason`` (a sentence for people).
    """
    minor = parse_minor(version)
    label = "%d.%d" % minor
    if minor >= ALWAYS_QUALIFIES_FROM:
        return {"supported": True, "minimum_platform": None,
                "reason": "Kubernetes %s supports Windows on the control plane on every "
                          "platform version." % label}
    needed = CONTROL_PLANE_MINIMUM_PLATFORM.get(minor)
    if needed is None:
        oldest = "%d.%d" % min(CONTROL_PLANE_MINIMUM_PLATFORM)
        return {"supported": False, "minimum_platform": None,
                "reason": "Kubernetes %s is older than %s, the oldest version with control-plane "
                          "Windows support; only legacy (data-plane) support is possible. "
                          "Upgrade the cluster to use control-plane support." % (label, oldest)}
    platform = parse_platform(platform_version)
    minimum = "eks.%d" % needed
    if platform >= needed:
        return {"supported": True, "minimum_platform": minimum,
                "reason": "Kubernetes %s on %s meets the minimum platform version %s."
                          % (label, platform_version, minimum)}
    return {"supported": False, "minimum_platform": minimum,
            "reason": "Kubernetes %s on platform %s is below the minimum platform version %s "
                      "for control-plane Windows support; only legacy (data-plane) support is "
                      "possible until EKS updates the platform version."
                      % (label, platform_version, minimum)}


def policy_arn(partition):
    return "arn:%s:iam::aws:policy/%s" % (partition or "aws", VPC_RESOURCE_CONTROLLER_POLICY)


def role_name_from_arn(role_arn):
    """arn:aws:iam::1:role/some/path/name -> name (IAM calls take the name, not the path)."""
    if not role_arn or ":role/" not in role_arn:
        raise ValueError("not an IAM role ARN: %r" % (role_arn,))
    return role_arn.split(":role/", 1)[1].rsplit("/", 1)[-1]


def policy_needed(state, has_linux_nodes, security_groups_for_pods):
    """Whether the policy step acts, per the seed's rule; returns (act, reason).

    Enable: attach unless the cluster has no Amazon Linux nodes *and* uses security groups
    for pods. Disable: detach unless it has Amazon Linux nodes *and* uses security groups
    for pods (they still need the policy).
    """
    if state == "enabled":
        if not has_linux_nodes and security_groups_for_pods:
            return False, ("no Linux nodes and security groups for pods in use: the procedure "
                           "leaves the policy as it is")
        return True, "the VPC resource controller needs the policy for Windows IPAM"
    if has_linux_nodes and security_groups_for_pods:
        return False, ("Linux nodes use security groups for pods, which need the policy: "
                       "it stays attached")
    return True, "nothing else on the cluster needs the policy"


def legacy_objects():
    """Every object a legacy install of any flavour can leave, in removal order: dicts of
    kind, name, namespace (None when cluster-scoped) and flavour (None when shared)."""
    entries = [(key, name, None) for key, name in LEGACY_SHARED.items()]
    for flavour, names in sorted(LEGACY_FLAVOURS.items()):
        entries += [(key, name, flavour) for key, name in names.items()]
    objects = []
    for key, name, flavour in entries:
        kind, namespaced = LEGACY_KINDS[key]
        objects.append({"kind": kind, "name": name, "flavour": flavour,
                        "namespace": LEGACY_NAMESPACE if namespaced else None})
    objects.sort(key=lambda o: (LEGACY_REMOVAL_ORDER.index(o["kind"]), o["flavour"] is None,
                                o["flavour"] or "", o["name"]))
    return objects


def legacy_flavours(found):
    """The install flavours that objects found on a cluster belong to, sorted ([] when only
    shared objects, or nothing, remain)."""
    return sorted(set(o["flavour"] for o in found if o.get("flavour")))


def serves_certificates_v1(version):
    """Whether a cluster of Kubernetes `version` serves certificates.k8s.io/v1; True when the
    version cannot be read (the read then answers for itself)."""
    try:
        return parse_minor(version) >= CERTIFICATES_V1_FROM
    except VersionError:
        return True


def truthy(value):
    return str(value).strip().lower() == "true"


# --- legacy install: the images of the seed's era, from Amazon's ECR in the cluster's region ---
LEGACY_IMAGE_TAG = "v0.2.7"
LEGACY_CONTROLLER_IMAGE = "eks/windows-vpc-resource-controller"
LEGACY_WEBHOOK_IMAGE = "eks/vpc-admission-webhook"
ECR_DEFAULT_ACCOUNT = "602401143452"
ECR_ACCOUNTS = {
    "af-south-1": "877085696533",
    "ap-east-1": "800184023465",
    "ap-south-2": "900889452093",
    "ap-southeast-3": "296578399912",
    "ap-southeast-4": "491585149902",
    "ca-west-1": "761377655185",
    "eu-central-2": "900612956339",
    "eu-south-1": "590381155156",
    "eu-south-2": "455263428931",
    "il-central-1": "066635153087",
    "me-central-1": "759879836304",
    "me-south-1": "558608220178",
    "cn-north-1": "918309763551",
    "cn-northwest-1": "961992271922",
    "us-gov-east-1": "151742754352",
    "us-gov-west-1": "013241004608",
}
KUBE_PROXY_WINDOWS_BINDING = "eks:kube-proxy-windows"


def ecr_registry(region):
    """<account>.dkr.ecr.<region>.<dns suffix> of Amazon's EKS images for a region."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return "%s.dkr.ecr.%s.%s" % (ECR_ACCOUNTS.get(region, ECR_DEFAULT_ACCOUNT), region, suffix)


FARGATE_COMPUTE_LABEL = "eks.amazonaws.com/compute-type"


# --- section 1: the considerations an assessment checks, as data ---

# Instance families the seed lists as not supported for Windows workloads, and the exceptions.
WINDOWS_UNSUPPORTED_FAMILIES = ("c3", "c4", "d2", "i2", "m4", "m6a", "r3")
WINDOWS_UNSUPPORTED_EXCEPTIONS = ("m4.16xlarge",)
# A Service of type LoadBalancer supports at most this many Windows back-end pods.
LOADBALANCER_WINDOWS_POD_LIMIT = 64
# aws-node env that Windows nodes cannot be used with (besides security groups for pods).
CUSTOM_NETWORKING_ENV = "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG"
PREFIX_DELEGATION_ENV = "ENABLE_PREFIX_DELEGATION"
# CoreDNS's pod labels on EKS: a Fargate profile whose kube-system selector matches them can
# run CoreDNS in place of Linux nodes (not enough for legacy support).
COREDNS_POD_LABELS = {"k8s-app": "kube-dns", "eks.amazonaws.com/component": "coredns"}
WINDOWS_AMI_TYPE_PREFIX = "WINDOWS_"
VPC_CNI_ADDON = "vpc-cni"
VPC_CNI_ADDON_WINDOWS_KEY = "enableWindowsIpam"
HELM_RELEASE_ANNOTATION = "meta.helm.sh/release-name"
HELM_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"
HELM_MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
# Who writes ConfigMap amazon-vpc-cni (reference, section 10): its Windows keys, and the
# configuration value of the VPC CNI add-on (the same name as the aws-vpc-cni chart's value)
# that writes each. Source: aws/amazon-vpc-cni-k8s charts/aws-vpc-cni (values.yaml and the
# ConfigMap template); the add-on's schema per version (eks:DescribeAddonConfiguration) says
# which of them a version accepts.
VPC_CNI_ADDON_VALUES = {
    "enable-windows-ipam": "enableWindowsIpam",
    "enable-windows-prefix-delegation": "enableWindowsPrefixDelegation",
    "windows-warm-ip-target": "warmWindowsIPTarget",
    "windows-minimum-ip-target": "minimumWindowsIPTarget",
    "windows-warm-prefix-target": "warmWindowsPrefixTarget",
}
# What the add-on (and the chart) write when their values do not set a key.
VPC_CNI_ADDON_DEFAULTS = {"enableWindowsIpam": "false", "enableWindowsPrefixDelegation": "false"}
# What a missing key of the ConfigMap means to the VPC resource controller.
VPC_CNI_CONFIGMAP_DEFAULTS = {"enable-windows-ipam": "false", "enable-windows-prefix-delegation": "false"}
# UpdateAddon keeps what others changed in the add-on's objects, and applies what the
# configuration values set.
ADDON_RESOLVE_CONFLICTS = "PRESERVE"
RECOMMENDED_LINUX_NODES = 2
WEBHOOK_CERT_WARNING_DAYS = 30


def windows_unsupported_instance_type(instance_type):
    """Whether the seed lists `instance_type` (e.g. c4.large) as unsupported for Windows."""
    if not instance_type:
        return False
    instance_type = instance_type.lower()
    if instance_type in WINDOWS_UNSUPPORTED_EXCEPTIONS:
        return False
    return instance_type.split(".", 1)[0] in WINDOWS_UNSUPPORTED_FAMILIES


def windows_max_pods(ipv4_addresses_per_interface):
    """Pods a Windows node can run: one ENI, its IPv4 addresses minus the node's own."""
    return int(ipv4_addresses_per_interface) - 1


def fargate_runs_coredns(profiles):
    """Whether one of the Fargate profiles (EKS DescribeFargateProfile dicts) selects CoreDNS:
    a kube-system selector whose labels, if any, CoreDNS's pods carry."""
    for profile in profiles:
        if profile.get("status", "ACTIVE") not in ("ACTIVE", "CREATING"):
            continue
        for selector in profile.get("selectors") or []:
            if selector.get("namespace") != "kube-system":
                continue
            labels = selector.get("labels") or {}
            if all(COREDNS_POD_LABELS.get(k) == v for k, v in labels.items()):
                return True
    return False
