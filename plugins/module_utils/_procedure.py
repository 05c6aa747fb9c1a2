# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules of the EKS Windows support procedure, in one place, as data where they are data.

Sources: the EKS user guide page "Windows support" of the era when legacy support still existed
(the 2021 edition), today's edition of that page where the two differ, and what the upstream
projects (eksctl, amazon-vpc-resource-controller-k8s, amazon-vpc-cni-k8s, botocore's EKS model)
show. ``RULES`` (at the end) lists every rule and finding id with its source, its edition and the
date it changed; the assessment and the gates take titles, severities and sources from it.
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
# The bounds of the certificate renewal's options (section 7), as (lowest, highest, unit). EKS
# signs serving certificates for one year (the app-serving signer; the controller manager's
# legacy signer, --cluster-signing-duration, 8760h by default), so renewing 365 days or more
# before expiry would renew on every run; the documented script waits 10 s for the signer; one
# webhook pod rolls out in seconds to minutes: an hour is the most anyone waits on purpose.
CERT_OPTION_RANGES = {
    "renew_before": (0, 364, "days"),
    "wait_timeout": (1, 3600, "seconds"),
    "rollout_timeout": (1, 3600, "seconds"),
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


# How the VPC resource controller reads enable-windows-ipam and enable-windows-prefix-delegation
# (aws/amazon-vpc-resource-controller-k8s pkg/condition/conditions.go IsWindowsIPAMEnabled and
# IsWindowsPrefixDelegationEnabled), and aws-node its ENABLE_* variables: Go's strconv.ParseBool,
# which takes exactly these spellings (no blanks around them). A value it refuses is an error the
# controller swallows: the setting is then off, as if it said false.
GO_PARSE_BOOL = {
    True: ("1", "t", "T", "TRUE", "true", "True"),
    False: ("0", "f", "F", "FALSE", "false", "False"),
}
GO_PARSE_BOOL_SOURCE = ("Go strconv.ParseBool (1, t, T, TRUE, true, True; 0, f, F, FALSE, false, False), "
                        "as aws/amazon-vpc-resource-controller-k8s pkg/condition/conditions.go reads "
                        "enable-windows-ipam and enable-windows-prefix-delegation")


def parse_bool(value):
    """True or False as Go's strconv.ParseBool reads `value` (a string; a YAML/JSON bool or
    number as its text), None when it refuses it or `value` is None (unset)."""
    if value is None:
        return None
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    for result, spellings in GO_PARSE_BOOL.items():
        if text in spellings:
            return result
    return None


def truthy(value):
    """Whether the controller (or aws-node) reads `value` as on: parse_bool says True. Unset and
    unparseable values are off, as the controller takes them."""
    return parse_bool(value) is True


def unparseable_bool(value):
    """A value that is set but that strconv.ParseBool refuses (the controller reads it as off)."""
    return value is not None and parse_bool(value) is None


def same_setting(key, current, wanted):
    """Whether ConfigMap key `key` (or its add-on value) already says `wanted`: for the keys the
    controller reads as booleans, whether both read the same (an unparseable value never does,
    so it is rewritten); for the others, the same text."""
    if key in CONTROLLER_BOOL_KEYS:
        return parse_bool(current) is not None and parse_bool(current) == parse_bool(wanted)
    return current == wanted


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


# --- section 1 and section 10: the considerations an assessment checks, as data ---

# Instance families the seed (2021) listed as not supported for Windows workloads, and the
# exception. Today's guide dropped the list in 2022-06: it only feeds the `info` finding
# historic_unsupported_instance_type.
WINDOWS_UNSUPPORTED_FAMILIES = ("c3", "c4", "d2", "i2", "m4", "m6a", "r3")
WINDOWS_UNSUPPORTED_EXCEPTIONS = ("m4.16xlarge",)
# A Service of type LoadBalancer supports this many Windows back-end pods today; 64 where a
# selected pod runs on a Windows build older than LOADBALANCER_LIMIT_BUILD (the 2021 limit).
LOADBALANCER_WINDOWS_POD_LIMIT = 1024
LOADBALANCER_OLD_WINDOWS_POD_LIMIT = 64
LOADBALANCER_LIMIT_BUILD = (10, 0, 17763, 2746)
# aws-node env that Windows nodes cannot be used with (besides security groups for pods).
CUSTOM_NETWORKING_ENV = "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG"
# Linux prefix delegation (aws-node env): no concern of Windows nodes today.
PREFIX_DELEGATION_ENV = "ENABLE_PREFIX_DELEGATION"
# Windows prefix delegation: a key of ConfigMap amazon-vpc-cni, Nitro instances only, from these
# platform versions (every later Kubernetes minor qualifies, earlier ones never do).
WINDOWS_PREFIX_DELEGATION_KEY = "enable-windows-prefix-delegation"
WINDOWS_PREFIX_DELEGATION_MINIMUM_PLATFORM = {(1, 25): 5, (1, 26): 4, (1, 27): 3}
WINDOWS_PREFIX_DELEGATION_ALWAYS_FROM = (1, 28)
IPV4_ADDRESSES_PER_PREFIX = 16
KUBELET_DEFAULT_MAX_PODS = 110
MODE_SECONDARY_IP = "secondary_ip"
MODE_PREFIX_DELEGATION = "prefix_delegation"
# CoreDNS's pod labels on EKS: a Fargate profile whose kube-system selector matches them can
# run CoreDNS in place of Linux nodes (not enough for legacy support).
COREDNS_POD_LABELS = {"k8s-app": "kube-dns", "eks.amazonaws.com/component": "coredns"}
# Managed Windows node groups (since 2022-12): the AMI types of botocore's EKS model.
WINDOWS_AMI_TYPE_PREFIX = "WINDOWS_"
WINDOWS_AMI_TYPES = ("WINDOWS_CORE_2019_x86_64", "WINDOWS_FULL_2019_x86_64",
                     "WINDOWS_CORE_2022_x86_64", "WINDOWS_FULL_2022_x86_64",
                     "WINDOWS_CORE_2025_x86_64", "WINDOWS_FULL_2025_x86_64")
# --- the Windows node doctor (issue 12; reference section 10) -------------------------------
# Node identity. A Windows node's IAM role must reach Kubernetes as a node of group
# eks:kube-proxy-windows (without it, kube-proxy on Windows cannot read Services and DNS fails):
# in aws-auth mapRoles with these groups and username, or as an access entry of type EC2_WINDOWS.
AWS_AUTH_NAMESPACE = "kube-system"
AWS_AUTH_CONFIGMAP = "aws-auth"
WINDOWS_NODE_GROUPS = ("system:bootstrappers", "system:nodes", "eks:kube-proxy-windows")
NODE_USERNAME = "system:node:{{EC2PrivateDNSName}}"
AUTH_MODE_CONFIG_MAP = "CONFIG_MAP"
AUTH_MODE_API_AND_CONFIG_MAP = "API_AND_CONFIG_MAP"
AUTH_MODE_API = "API"
AUTH_MODES = (AUTH_MODE_CONFIG_MAP, AUTH_MODE_API_AND_CONFIG_MAP, AUTH_MODE_API)
# which mechanisms a mode reads: in API_AND_CONFIG_MAP an access entry of the principal wins
# over its aws-auth mapping
AUTH_MODE_READS = {AUTH_MODE_CONFIG_MAP: ("aws_auth",),
                   AUTH_MODE_API_AND_CONFIG_MAP: ("access_entry", "aws_auth"),
                   AUTH_MODE_API: ("access_entry",)}
ACCESS_ENTRY_WINDOWS = "EC2_WINDOWS"
ACCESS_ENTRY_LINUX = "EC2_LINUX"
KARPENTER_NODEPOOL_LABEL = "karpenter.sh/nodepool"
NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
# Windows pods without an IP address. The resource the control-plane webhook adds to a pod
# that selects Windows by nodeSelector, that the controller advertises on each Windows node it
# manages, and the annotation it writes on a pod once it has assigned an address.
IPV4_RESOURCE = "vpc.amazonaws.com/PrivateIPv4Address"
IPV4_ANNOTATION = "vpc.amazonaws.com/PrivateIPv4Address"
CONTROLLER_EVENT_SOURCES = ("vpc-resource-controller", "eks-vpc-resource-controller")
# the causes, in the order they are checked (the controller's own troubleshooting order: the
# ConfigMap, the node's capacity, the pod's resource limit, the pod's address annotation, the
# Windows host; the cluster-level causes first, since each of them alone explains every pod)
POD_CAUSES = ("windows_ipam_off", "legacy_controller_present", "cluster_role_lacks_policy",
              "node_without_ipv4_capacity", "pod_lacks_ipv4_request", "node_ipv4_slots_full",
              "subnet_out_of_addresses", "controller_event", "ip_assigned_host_problem", "unknown")
# Windows AMIs: the public SSM parameter of the latest EKS optimized Windows AMI per release,
# installation option and Kubernetes version; Amazon makes older Windows AMIs private about four
# months after their release, and instances of them can no longer be launched.
WINDOWS_AMI_PARAMETER = ("/aws/service/ami-windows-latest/Windows_Server-{release}-English-"
                         "{option}-EKS_Optimized-{version}/image_id")
WINDOWS_AMI_NAME = r"^Windows_Server-(\d{4})-English-(Core|Full)-EKS_Optimized-(\d+\.\d+)-(\d{4})[.-](\d{2})[.-](\d{2})"
WINDOWS_AMI_RETENTION_MONTHS = 4
WINDOWS_AMI_OWNER = "801119661308"
AMI_TYPE_IMAGE = {  # managed node group AMI type -> (Windows Server release, installation option)
    "WINDOWS_CORE_2019_x86_64": ("2019", "Core"), "WINDOWS_FULL_2019_x86_64": ("2019", "Full"),
    "WINDOWS_CORE_2022_x86_64": ("2022", "Core"), "WINDOWS_FULL_2022_x86_64": ("2022", "Full"),
    "WINDOWS_CORE_2025_x86_64": ("2025", "Core"), "WINDOWS_FULL_2025_x86_64": ("2025", "Full"),
}
# Windows Server releases past Microsoft's mainstream support (an info, not a blocker)
WINDOWS_SERVER_MAINSTREAM_END = {"2019": "2024-01-09"}
AMI_WARNING_DAYS = 30
AMI_WARNING_RANGE = (1, 365)

# Compute Windows cannot run on: EKS Auto Mode (DescribeCluster computeConfig.enabled, nodes
# labelled compute-type auto) and Hybrid Nodes (remoteNetworkConfig, compute-type hybrid).
AUTO_MODE_COMPUTE_TYPE = "auto"
HYBRID_COMPUTE_TYPE = "hybrid"
FARGATE_COMPUTE_TYPE = "fargate"
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
# The keys (of the ConfigMap, and their add-on values) that the controller reads with parse_bool.
CONTROLLER_BOOL_KEYS = ("enable-windows-ipam", "enable-windows-prefix-delegation",
                        "enableWindowsIpam", "enableWindowsPrefixDelegation")
# UpdateAddon keeps what others changed in the add-on's objects, and applies what the
# configuration values set.
ADDON_RESOLVE_CONFLICTS = "PRESERVE"
RECOMMENDED_LINUX_NODES = 2
WEBHOOK_CERT_WARNING_DAYS = 30


def windows_unsupported_instance_type(instance_type):
    """Whether the 2021 edition listed `instance_type` (e.g. c4.large) as unsupported for
    Windows (a historic rule: today's guide has no such list)."""
    if not instance_type:
        return False
    instance_type = instance_type.lower()
    if instance_type in WINDOWS_UNSUPPORTED_EXCEPTIONS:
        return False
    return instance_type.split(".", 1)[0] in WINDOWS_UNSUPPORTED_FAMILIES


def windows_max_pods(ipv4_addresses_per_interface, mode=MODE_SECONDARY_IP,
                     kubelet_max_pods=KUBELET_DEFAULT_MAX_PODS):
    """Pods a Windows node can run, by IP mode. One ENI in both: in secondary-IP mode its IPv4
    addresses minus the node's own; with Windows prefix delegation each other slot holds a /28
    prefix of 16 addresses, capped by the kubelet's max-pods."""
    slots = int(ipv4_addresses_per_interface) - 1
    if mode == MODE_SECONDARY_IP:
        return slots
    if mode == MODE_PREFIX_DELEGATION:
        return min(slots * IPV4_ADDRESSES_PER_PREFIX, int(kubelet_max_pods))
    raise ValueError("not a Windows IP mode: %r" % (mode,))


def windows_prefix_delegation_supported(version, platform_version):
    """Whether the cluster's versions support Windows prefix delegation (1.25 eks.5, 1.26 eks.4,
    1.27 eks.3, every later minor); raises VersionError on versions it cannot read."""
    minor = parse_minor(version)
    if minor >= WINDOWS_PREFIX_DELEGATION_ALWAYS_FROM:
        return True
    needed = WINDOWS_PREFIX_DELEGATION_MINIMUM_PLATFORM.get(minor)
    return needed is not None and parse_platform(platform_version) >= needed


def windows_build(kernel_version):
    """'10.0.17763.2746' (a Windows node's status.nodeInfo.kernelVersion) -> (10, 0, 17763, 2746);
    None when it is not such a version (Linux kernels have no fourth number)."""
    match = re.match(r"^\s*(\d+)\.(\d+)\.(\d+)\.(\d+)", str(kernel_version or ""))
    return tuple(int(g) for g in match.groups()) if match else None


def loadbalancer_old_windows_build(kernel_version):
    """Whether a Windows node's kernel is older than 10.0.17763.2746, the build from which a
    LoadBalancer Service takes 1024 Windows back-end pods instead of 64 (False when unknown)."""
    build = windows_build(kernel_version)
    return build is not None and build < LOADBALANCER_LIMIT_BUILD


def controller_knows(instance_type):
    """Whether the vpc-resource-controller's limits table (CONTROLLER_INSTANCE_TYPES) has the
    instance type; None when no instance type is known."""
    if not instance_type or "." not in instance_type:
        return None if not instance_type else False
    family, size = instance_type.lower().split(".", 1)
    return size in CONTROLLER_INSTANCE_TYPES.get(family, "").split()


def described_nitro(described):
    """Whether DescribeInstanceTypes (`described`: reads.eni_ipv4's entry of a type) says Nitro
    (Hypervisor "nitro", or bare metal, which the controller counts as Nitro); None when it
    says neither (the type was not described)."""
    if described and (described.get("hypervisor") or described.get("bare_metal") is not None):
        return described.get("hypervisor") == "nitro" or bool(described.get("bare_metal"))
    return None


def is_nitro(instance_type, described=None):
    """Whether an instance type is Nitro (or bare metal, which the controller counts as Nitro):
    DescribeInstanceTypes (`described`: reads.eni_ipv4's entry) when it was read, else the
    controller's table; None when neither knows the type."""
    said = described_nitro(described)
    if said is not None:
        return said
    if not controller_knows(instance_type):
        return None
    family, size = instance_type.lower().split(".", 1)
    return size not in CONTROLLER_NON_NITRO_INSTANCE_TYPES.get(family, "").split()


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


# --- every rule, with the edition or upstream file it comes from ---------------------------
#
# Severity means one thing everywhere: `error` = Windows pods cannot work, or the procedure must
# not run; `warning` = a risk to act on; `info` = context. No rule that today's guide dropped is
# an error. `severities` lists what a finding of that id can say (the first is the usual one;
# the assessment picks among them per case, e.g. warning with Windows nodes, else info); rules
# that are no finding (a gate's blocker only, or a rule the procedure applies) have none.
# `gates` names the procedures whose gate (_gates.py) blocks on the id. `changed` is when the rule
# changed from the 2021 edition (YYYY-MM), None when it has not (or when no date is known, said
# in `note`). `was` says what the 2021 edition said where it differs.

SEED = ("EKS user guide \"Windows support\", 2021 edition (the seed; reference sections 1-8)")
GUIDE = ("EKS user guide today: awsdocs/amazon-eks-user-guide "
         "latest/ug/clusters/windows-support.adoc")
CONTROLLER_COMMIT = "58c8559e6486e4c04453a5a5239ce1df0da10b30"
CONTROLLER_LIMITS = ("aws/amazon-vpc-resource-controller-k8s pkg/aws/vpc/limits.go at %s "
                     "(generated 2026-03-20)" % CONTROLLER_COMMIT[:12])
CONTROLLER_NITRO = ("aws/amazon-vpc-resource-controller-k8s pkg/utils/helper.go IsNitroInstance "
                    "and controllers/core/pod_controller.go (prefix delegation only on Nitro)")
CONTROLLER_CONDITIONS = "aws/amazon-vpc-resource-controller-k8s pkg/condition/conditions.go"
BOTOCORE_EKS = ("botocore EKS model: Cluster.computeConfig (enabled, nodePools, nodeRoleArn), "
                "Cluster.remoteNetworkConfig, Nodegroup.amiType")
ACCESS_ENTRIES = ("EKS user guide today: access entries (creating-access-entries: types "
                  "EC2_LINUX, EC2_WINDOWS, STANDARD, ...; CreateAccessEntry in botocore's EKS model)")
CONTROLLER_TROUBLESHOOTING = ("aws/amazon-vpc-resource-controller-k8s docs/troubleshooting.md "
                              "(Windows: IPAM in the ConfigMap, the node's resource capacity, the "
                              "pod's resource limit, the pod's IPv4 annotation, the Windows host)")
GUIDE_WINDOWS_AMI = ("EKS user guide today: retrieve-windows-ami-id (SSM parameters "
                     "/aws/service/ami-windows-latest/...) and eks-ami-versions-windows")
AMI_RETENTION = ("reference section 10 (Windows AMIs made private about 4 months after release); "
                 "eksctl-io/eksctl issue 6319 (\"Not authorized for images\" on scale-out)")
COLLECTION = "eksops.windows itself (no rule of EKS: what the assessment could not judge)"

EDITION_SEED = "2021"
EDITION_TODAY = "today"
EDITION_UPSTREAM = "upstream"
EDITION_COLLECTION = "collection"


def _rule(title, severities, edition, source, changed=None, gates=(), was=None, note=None):
    return {"title": title, "severities": tuple(severities), "edition": edition,
            "source": source, "changed": changed, "gates": tuple(gates), "was": was,
            "note": note}


RULES = {
    # --- section 2 and the cluster role ---
    "version_below_table": _rule(
        "Only legacy Windows support is possible", ("warning",), EDITION_SEED,
        SEED + " section 2 (version table); " + GUIDE + " (no table: 1.21 and older are no "
        "longer offered by EKS)", gates=("control_plane",),
        note="the numeric gate stays for the legacy procedures; no date is known for the "
             "guide dropping the table"),
    "version_not_assessable": _rule(
        "The version table cannot judge this cluster", ("warning",), EDITION_COLLECTION,
        COLLECTION, gates=("control_plane", "legacy", "prefix_delegation")),
    "control_plane_possible": _rule(
        "Control-plane support is possible", (), EDITION_SEED,
        SEED + " section 2 (legacy support only below the version table)", gates=("legacy",)),
    "cluster_role_missing": _rule(
        "The cluster IAM role does not exist", ("error",), EDITION_SEED,
        SEED + " section 2 (an existing cluster IAM role)", gates=("control_plane",)),
    # --- consideration 3 ---
    "no_linux_node": _rule(
        "No Linux node and no Fargate profile for CoreDNS", ("error",), EDITION_SEED,
        SEED + " section 1.3; unchanged in " + GUIDE, gates=("control_plane",)),
    "single_linux_node": _rule(
        "Only one Linux node", ("warning",), EDITION_SEED, SEED + " section 1.3 (two recommended)"),
    "legacy_needs_linux_node": _rule(
        "Legacy support needs a Linux node", ("error",), EDITION_SEED,
        SEED + " sections 1.3 and 6.5", gates=("legacy",)),
    # --- section 10: compute Windows cannot run on ---
    "auto_or_hybrid_compute_only": _rule(
        "Only EKS Auto Mode or Hybrid Nodes compute: Windows cannot run", ("error",),
        EDITION_TODAY, GUIDE + " (no Windows on EKS Auto Mode nor Hybrid Nodes); " + BOTOCORE_EKS,
        gates=("control_plane", "legacy"),
        note="EKS Auto Mode and Hybrid Nodes came after the 2021 edition"),
    # --- consideration 1: instance types ---
    "historic_unsupported_instance_type": _rule(
        "Instance types the 2021 guide listed as unsupported for Windows", ("info",),
        EDITION_SEED, SEED + " section 1.1; removed from " + GUIDE, changed="2022-06",
        was="error unsupported_instance_type: C3, C4, D2, I2, M4 (except m4.16xlarge), M6a "
            "and R3 not supported for Windows workloads"),
    "instance_type_unknown_to_controller": _rule(
        "Windows nodes on instance types the VPC resource controller does not know",
        ("warning",), EDITION_UPSTREAM, CONTROLLER_LIMITS,
        note="a type newer than the pinned table may be known to the controller EKS runs"),
    "windows_prefix_delegation_not_nitro": _rule(
        "Windows prefix delegation is on, but Windows nodes are not Nitro", ("warning",),
        EDITION_TODAY, GUIDE + " (Nitro only); " + CONTROLLER_NITRO,
        gates=("prefix_delegation",)),
    "windows_prefix_delegation_platform": _rule(
        "Windows prefix delegation is on, but the platform version does not support it",
        ("warning",), EDITION_TODAY,
        GUIDE + " (from 1.25 eks.5, 1.26 eks.4, 1.27 eks.3)", gates=("prefix_delegation",)),
    "windows_prefix_delegation_nitro_unknown": _rule(
        "Windows nodes whose instance type could not be judged Nitro", (), EDITION_COLLECTION,
        COLLECTION + "; ec2:DescribeInstanceTypes (Hypervisor, BareMetal)",
        gates=("prefix_delegation",),
        note="the gate of prefix delegation refuses to guess: grant ec2:DescribeInstanceTypes"),
    "windows_ipam_off": _rule(
        "Windows IPAM is off: Windows prefix delegation needs it on", (), EDITION_TODAY,
        GUIDE + " (the amazon-vpc-cni ConfigMap of Windows prefix delegation sets "
        "enable-windows-ipam and enable-windows-prefix-delegation to true)",
        gates=("prefix_delegation",),
        note="where the vpc-cni add-on owns the ConfigMap, its configuration values must say so, "
             "or the add-on's update that sets prefix delegation turns Windows IPAM off"),
    # --- consideration 8: pods per Windows node ---
    "max_pods_exceeds_eni": _rule(
        "Windows nodes advertise more pods than their IP mode can address", ("warning",),
        EDITION_TODAY, SEED + " section 1.8 (secondary-IP mode); " + GUIDE +
        " (prefix delegation: (IPv4 slots - 1) x 16, capped by kubelet max-pods)",
        was="IPv4 addresses per ENI - 1 in every case",
        note="Windows prefix delegation came after the 2021 edition; no date is known"),
    # --- consideration 10 ---
    "windows_managed_node_group": _rule(
        "Windows managed node groups", ("info",), EDITION_TODAY,
        GUIDE + " (managed Windows node groups); " + BOTOCORE_EKS, changed="2022-12",
        was="only self-managed Windows nodes (section 1.10)"),
    # --- considerations 5, 6, 7 ---
    "security_groups_for_pods": _rule(
        "Security groups for pods cannot be used with Windows pods", ("warning", "info"),
        EDITION_SEED, SEED + " section 1.5; unchanged in " + GUIDE),
    "custom_networking": _rule(
        "Custom networking cannot be used with Windows nodes", ("error", "warning"),
        EDITION_SEED, SEED + " section 1.6; unchanged in " + GUIDE),
    "linux_prefix_delegation": _rule(
        "Linux prefix delegation is on (no concern of Windows nodes)", ("info",), EDITION_TODAY,
        GUIDE + " (Linux and Windows prefix delegation coexist)",
        was="error prefix_delegation: IP prefixes cannot be used with Windows nodes (section 1.7)",
        note="no date is known for the change"),
    "ipv6_cluster": _rule(
        "IPv6 clusters cannot have Windows nodes", ("error",), EDITION_SEED,
        SEED + " section 1.7; " + GUIDE + " (IPv6 is still Linux only)",
        gates=("control_plane", "legacy")),
    # --- considerations 2 and 9 ---
    "windows_host_network": _rule(
        "Windows pods with host networking that are not HostProcess pods", ("error",),
        EDITION_TODAY, GUIDE + " (host networking through HostProcess pods, "
        "securityContext.windowsOptions.hostProcess)",
        was="every Windows pod with hostNetwork: true (section 1.2)",
        note="HostProcess containers are stable since Kubernetes 1.26; no date is known for the guide"),
    "loadbalancer_windows_pods_over_limit": _rule(
        "LoadBalancer Services with more Windows back-end pods than Windows supports", ("error",),
        EDITION_TODAY, GUIDE + " (1024 back-end pods; 64 on Windows builds before 10.0.17763.2746)",
        was="loadbalancer_windows_pods_over_64: at most 64 Windows back-end pods (section 1.9)",
        note="no date is known for the change"),
    # --- section 8 ---
    "workload_without_os_selector": _rule(
        "Workloads without an OS node selector in a mixed cluster", ("warning",), EDITION_SEED,
        SEED + " section 8"),
    "windows_affinity_without_selector": _rule(
        "Windows workloads pinned by node affinity only", ("warning",), EDITION_SEED,
        SEED + " section 8 (the control-plane webhook reads the nodeSelector only)"),
    # --- section 3 and 10: who owns enable-windows-ipam ---
    "cni_addon_drift": _rule(
        "The VPC CNI add-on and ConfigMap amazon-vpc-cni disagree on enable-windows-ipam",
        ("warning", "info"), EDITION_TODAY,
        SEED + " section 3 (drift); " + GUIDE + " (the add-on's enableWindowsIpam)",
        was="reported for every vpc-cni add-on whose configuration values did not set "
            "enableWindowsIpam to true, whatever the ConfigMap said",
        note="the add-on's next update rewrites the ConfigMap from its configuration values"),
    "cni_setting_unparseable": _rule(
        "A Windows key of ConfigMap amazon-vpc-cni says neither true nor false to the controller",
        ("error", "warning"), EDITION_UPSTREAM, GO_PARSE_BOOL_SOURCE,
        note="the controller ignores a value strconv.ParseBool refuses: the setting is off"),
    "cni_helm_drift": _rule(
        "A Helm release owns ConfigMap amazon-vpc-cni", ("warning", "info"), EDITION_TODAY,
        SEED + " section 3 (drift); the aws-vpc-cni chart of aws/amazon-vpc-cni-k8s"),
    # --- legacy support and its certificate (sections 5, 7) ---
    "legacy_support_present": _rule(
        "Legacy (data-plane) Windows support is installed", ("warning", "info"), EDITION_SEED,
        SEED + " section 5"),
    "legacy_controller_present": _rule(
        "The legacy vpc-resource-controller Deployment is installed", (), EDITION_UPSTREAM,
        SEED + " section 3; " + CONTROLLER_CONDITIONS + " (Windows IPAM off while it exists)",
        gates=("control_plane",)),
    "webhook_certificate_secret_missing": _rule(
        "The legacy webhook is installed, but its certificate Secret is missing", ("error",),
        EDITION_SEED, SEED + " section 7 (Secret vpc-admission-webhook-certs with cert.pem and "
        "key.pem)"),
    "webhook_certificate_unreadable": _rule(
        "The webhook certificate Secret holds no readable certificate", ("error",), EDITION_SEED,
        SEED + " section 7 (cert.pem: the PEM certificate the CSR API issued)"),
    "webhook_certificate_key_missing": _rule(
        "The webhook certificate Secret has no private key", ("error",), EDITION_SEED,
        SEED + " section 7 (key.pem: the key of the CSR)"),
    "webhook_certificate_key_mismatch": _rule(
        "The webhook certificate's private key is not the key of its certificate", ("error",),
        EDITION_SEED, SEED + " section 7 (key.pem: the key of the CSR)"),
    "webhook_certificate_expired": _rule(
        "The VPC admission webhook certificate has expired", ("error",), EDITION_SEED,
        SEED + " section 7"),
    "webhook_certificate_expiring": _rule(
        "The VPC admission webhook certificate expires soon", ("warning",), EDITION_SEED,
        SEED + " section 7"),
    "assessment_incomplete": _rule(
        "Parts of the assessment could not be read", ("warning",), EDITION_COLLECTION, COLLECTION),
    # --- section 10: the Windows node doctor (node identity, pods without IP, AMIs) ---
    "windows_node_role_unmapped": _rule(
        "A Windows node role is neither mapped in aws-auth nor given an access entry",
        ("error",), EDITION_TODAY, GUIDE + " (Windows nodes: aws-auth groups " +
        ", ".join(WINDOWS_NODE_GROUPS) + "); " + ACCESS_ENTRIES,
        note="aws-auth ARNs carry no path; an access entry's ARN may"),
    "windows_node_role_without_kube_proxy_windows": _rule(
        "A Windows node role is mapped in aws-auth without group eks:kube-proxy-windows",
        ("error",), EDITION_TODAY, GUIDE + " (mapRoles of Windows nodes: " +
        ", ".join(WINDOWS_NODE_GROUPS) + "; without eks:kube-proxy-windows DNS fails on Windows)"),
    "windows_node_role_wrong_access_entry": _rule(
        "A Windows node role has an access entry of another type than EC2_WINDOWS", ("error",),
        EDITION_TODAY, ACCESS_ENTRIES + " (an entry's type cannot be changed once created)"),
    "windows_node_role_shared_in_api_mode": _rule(
        "One node role serves Linux and Windows nodes in API authentication mode", ("error",),
        EDITION_TODAY, ACCESS_ENTRIES + " (one entry per principal, EC2_LINUX or EC2_WINDOWS)"),
    "windows_node_identity_unresolved": _rule(
        "The IAM role of Windows nodes could not be found", ("warning",), EDITION_COLLECTION,
        COLLECTION + "; ec2:DescribeInstances (IamInstanceProfile), iam:GetInstanceProfile"),
    "windows_pods_without_ip": _rule(
        "Windows pods that are not running, with the cause of each", ("warning",),
        EDITION_UPSTREAM, CONTROLLER_TROUBLESHOOTING),
    "windows_ami_expired": _rule(
        "Windows nodes run an AMI past its retention or no longer visible", ("error",),
        EDITION_TODAY, AMI_RETENTION,
        note="instances of the image run, but no new one can be launched (scale-out fails)"),
    "windows_ami_expiring": _rule(
        "Windows nodes run an AMI that will soon be made private", ("warning",), EDITION_TODAY,
        AMI_RETENTION),
    "windows_ami_outdated": _rule(
        "Windows nodes run an older AMI than the latest EKS optimized one", ("info",),
        EDITION_TODAY, GUIDE_WINDOWS_AMI),
    "windows_server_2019": _rule(
        "Windows nodes run Windows Server 2019", ("info",), EDITION_TODAY,
        "Microsoft's lifecycle of Windows Server 2019 (mainstream support ended " +
        WINDOWS_SERVER_MAINSTREAM_END["2019"] + "); " + GUIDE_WINDOWS_AMI + " (2022 and 2025 AMIs)",
        note="the kubernetes/website page read (concepts/windows/intro.md) still lists Windows "
             "Server 2019: no Kubernetes version is known to drop it, so this is an info"),
    # --- rules the procedures apply (no finding) ---
    "control_plane_version_table": _rule(
        "Minimum platform version per Kubernetes minor", (), EDITION_SEED,
        SEED + " section 2 (CONTROL_PLANE_MINIMUM_PLATFORM)"),
    "policy_step": _rule(
        "When to attach or detach AmazonEKSVPCResourceController", (), EDITION_SEED,
        SEED + " sections 3 and 4 (policy_needed)"),
    "coredns_on_fargate": _rule(
        "A Fargate profile for CoreDNS replaces Linux nodes (not for legacy support)", (),
        EDITION_SEED, SEED + " section 1.3 (fargate_runs_coredns)"),
    "legacy_object_names": _rule(
        "The objects of a legacy install, per flavour", (), EDITION_UPSTREAM,
        SEED + " section 5; eksctl's utils install-vpc-controllers"),
    "legacy_images": _rule(
        "The legacy images and Amazon's ECR account per region", (), EDITION_SEED,
        SEED + " section 6"),
    "webhook_certificate_api": _rule(
        "CSR API version and signer of the legacy webhook certificate", (), EDITION_UPSTREAM,
        SEED + " section 7; EKS's beta.eks.amazonaws.com/app-serving signer"),
    "windows_max_pods": _rule(
        "Pods per Windows node by IP mode", (), EDITION_TODAY,
        SEED + " section 1.8; " + GUIDE + " (windows_max_pods)", was="IPv4 per ENI - 1"),
}


def rule(rule_id):
    """The entry of RULES for an id; KeyError names the id (a programming error)."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError("no rule %r in procedure.RULES" % (rule_id,))


# --- the vpc-resource-controller's instance types -------------------------------------------
# Facts from aws/amazon-vpc-resource-controller-k8s pkg/aws/vpc/limits.go at CONTROLLER_COMMIT:
# the names of its `Limits` table (1164 instance types), per family, and those of them that are
# neither Nitro (Hypervisor "nitro") nor bare metal, which the controller's IsNitroInstance
# treats as not Nitro (no Windows prefix delegation). Regenerate from a newer commit by reading
# the keys, `Hypervisor` and `IsBareMetal` of each entry.
CONTROLLER_INSTANCE_TYPES = {
    "a1": "large medium metal xlarge 2xlarge 4xlarge",
    "c1": "medium xlarge",
    "c3": "large xlarge 2xlarge 4xlarge 8xlarge",
    "c4": "large xlarge 2xlarge 4xlarge 8xlarge",
    "c5": "large metal xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge",
    "c5a": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "c5ad": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "c5d": "large metal xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge",
    "c5n": "large metal xlarge 2xlarge 4xlarge 9xlarge 18xlarge",
    "c6a": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge",
    "c6g": "large medium metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "c6gd": "large medium metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "c6gn": "large medium xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "c6i": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "c6id": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "c6in": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "c7a": "large medium metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge",
    "c7g": "large medium metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "c7gd": "large medium metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "c7gn": "large medium metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "c7i": "large metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "c7i-flex": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "c8a": "large medium metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "c8g": "large medium metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "c8gb": "large medium xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "c8gd": "large medium metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "c8gn": "large medium xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "c8i": "large metal-48xl metal-96xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge 96xlarge",
    "c8i-flex": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "c8id": "large metal-48xl metal-96xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge 96xlarge",
    "d2": "xlarge 2xlarge 4xlarge 8xlarge",
    "d3": "xlarge 2xlarge 4xlarge 8xlarge",
    "d3en": "xlarge 2xlarge 4xlarge 6xlarge 8xlarge 12xlarge",
    "dl1": "24xlarge",
    "dl2q": "24xlarge",
    "f1": "2xlarge 4xlarge 16xlarge",
    "f2": "6xlarge 12xlarge 48xlarge",
    "g4ad": "xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "g4dn": "metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "g5": "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "g5g": "metal xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "g6": "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "g6e": "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "g6f": "large xlarge 2xlarge 4xlarge",
    "g7e": "2xlarge 4xlarge 8xlarge 12xlarge 24xlarge 48xlarge",
    "gr6": "4xlarge 8xlarge",
    "gr6f": "4xlarge",
    "h1": "2xlarge 4xlarge 8xlarge 16xlarge",
    "i2": "xlarge 2xlarge 4xlarge 8xlarge",
    "i3": "large metal xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "i3en": "large metal xlarge 2xlarge 3xlarge 6xlarge 12xlarge 24xlarge",
    "i4g": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "i4i": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "i7i": "large metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "i7ie": "large metal-24xl metal-48xl xlarge 2xlarge 3xlarge 6xlarge 12xlarge 18xlarge 24xlarge 48xlarge",
    "i8g": "large metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "i8ge": "large metal-24xl metal-48xl xlarge 2xlarge 3xlarge 6xlarge 12xlarge 18xlarge 24xlarge 48xlarge",
    "im4gn": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "inf1": "xlarge 2xlarge 6xlarge 24xlarge",
    "inf2": "xlarge 8xlarge 24xlarge 48xlarge",
    "is4gen": "large medium xlarge 2xlarge 4xlarge 8xlarge",
    "m1": "large medium small xlarge",
    "m2": "xlarge 2xlarge 4xlarge",
    "m3": "large medium xlarge 2xlarge",
    "m4": "large xlarge 2xlarge 4xlarge 10xlarge 16xlarge",
    "m5": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "m5a": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "m5ad": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "m5d": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "m5dn": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "m5n": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "m5zn": "large metal xlarge 2xlarge 3xlarge 6xlarge 12xlarge",
    "m6a": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge",
    "m6g": "large medium metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m6gd": "large medium metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m6i": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "m6id": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "m6idn": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "m6in": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "m7a": "large medium metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge",
    "m7g": "large medium metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m7gd": "large medium metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m7i": "large metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "m7i-flex": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m8a": "large medium metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "m8azn": "large medium metal-12xl metal-24xl xlarge 3xlarge 6xlarge 12xlarge 24xlarge",
    "m8g": "large medium metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "m8gb": "large medium xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "m8gd": "large medium metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "m8gn": "large medium xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "m8i": "large metal-48xl metal-96xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge 96xlarge",
    "m8i-flex": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m8id": "large metal-48xl metal-96xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge 96xlarge",
    "mac-m4": "metal",
    "mac-m4max": "metal",
    "mac-m4pro": "metal",
    "mac1": "metal",
    "mac2": "metal",
    "mac2-m1ultra": "metal",
    "mac2-m2": "metal",
    "mac2-m2pro": "metal",
    "p3": "2xlarge 8xlarge 16xlarge",
    "p3dn": "24xlarge",
    "p4d": "24xlarge",
    "p4de": "24xlarge",
    "p5": "4xlarge 48xlarge",
    "p5e": "48xlarge",
    "p5en": "48xlarge",
    "p6-b200": "48xlarge",
    "p6-b300": "48xlarge",
    "r3": "large xlarge 2xlarge 4xlarge 8xlarge",
    "r4": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "r5": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "r5a": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "r5ad": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "r5b": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "r5d": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "r5dn": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "r5n": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "r6a": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge",
    "r6g": "large medium metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "r6gd": "large medium metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "r6i": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "r6id": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "r6idn": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "r6in": "large metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
    "r7a": "large medium metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge",
    "r7g": "large medium metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "r7gd": "large medium metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "r7i": "large metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "r7iz": "large metal-16xl metal-32xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 32xlarge",
    "r8a": "large medium metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "r8g": "large medium metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "r8gb": "large medium xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "r8gd": "large medium metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "r8gn": "large medium xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "r8i": "large metal-48xl metal-96xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge 96xlarge",
    "r8i-flex": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "r8id": "large metal-48xl metal-96xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge 96xlarge",
    "t1": "micro",
    "t2": "large medium micro nano small xlarge 2xlarge",
    "t3": "large medium micro nano small xlarge 2xlarge",
    "t3a": "large medium micro nano small xlarge 2xlarge",
    "t4g": "large medium micro nano small xlarge 2xlarge",
    "trn1": "2xlarge 32xlarge",
    "trn1n": "32xlarge",
    "u-3tb1": "56xlarge",
    "u-6tb1": "56xlarge 112xlarge",
    "u7i-12tb": "224xlarge",
    "u7i-6tb": "112xlarge",
    "u7i-8tb": "112xlarge",
    "u7in-16tb": "224xlarge",
    "u7in-24tb": "224xlarge",
    "u7in-32tb": "224xlarge",
    "vt1": "3xlarge 6xlarge 24xlarge",
    "x1": "16xlarge 32xlarge",
    "x1e": "xlarge 2xlarge 4xlarge 8xlarge 16xlarge 32xlarge",
    "x2gd": "large medium metal xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "x2idn": "metal 16xlarge 24xlarge 32xlarge",
    "x2iedn": "metal xlarge 2xlarge 4xlarge 8xlarge 16xlarge 24xlarge 32xlarge",
    "x2iezn": "metal 2xlarge 4xlarge 6xlarge 8xlarge 12xlarge",
    "x8aedz": "large metal-12xl metal-24xl xlarge 3xlarge 6xlarge 12xlarge 24xlarge",
    "x8g": "large medium metal-24xl metal-48xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "x8i": "large metal-48xl metal-96xl xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge 64xlarge 96xlarge",
    "z1d": "large metal xlarge 2xlarge 3xlarge 6xlarge 12xlarge",
}
CONTROLLER_NON_NITRO_INSTANCE_TYPES = {
    "c1": "medium xlarge",
    "c3": "large xlarge 2xlarge 4xlarge 8xlarge",
    "c4": "large xlarge 2xlarge 4xlarge 8xlarge",
    "d2": "xlarge 2xlarge 4xlarge 8xlarge",
    "f1": "2xlarge 4xlarge 16xlarge",
    "h1": "2xlarge 4xlarge 8xlarge 16xlarge",
    "i2": "xlarge 2xlarge 4xlarge 8xlarge",
    "i3": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "m1": "large medium small xlarge",
    "m2": "xlarge 2xlarge 4xlarge",
    "m3": "large medium xlarge 2xlarge",
    "m4": "large xlarge 2xlarge 4xlarge 10xlarge 16xlarge",
    "p3": "2xlarge 8xlarge 16xlarge",
    "r3": "large xlarge 2xlarge 4xlarge 8xlarge",
    "r4": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "t1": "micro",
    "t2": "large medium micro nano small xlarge 2xlarge",
    "x1": "16xlarge 32xlarge",
    "x1e": "xlarge 2xlarge 4xlarge 8xlarge 16xlarge 32xlarge",
}
