# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a module reads of one cluster, each read made at most once per module process.

The gates (_gates.py), the steps (_windows_support.py, ...) and the assessment (_assessment.py)
all take their facts from one ``ClusterReads``: a module that gates, acts and assesses lists the
nodes once, reads the ConfigMap once, lists the role's policies once. AWS reads the identity may
not make are not fatal here: they are listed in ``incomplete`` and return None, and each caller
decides what an unknown means (the gates refuse to guess where a blocker depends on it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.eksops.windows.plugins.module_utils import (
    _iam_policy as iam_policy,
    _legacy as legacy,
    _procedure as procedure,
    _workloads as workloads,
)

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore itself


LIVE_PODS = "status.phase!=Succeeded,status.phase!=Failed"
WINDOWS_NODES_PER_NODE_LISTS = 20


def _error_code(error):
    return getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)


def node_summary(node):
    """The facts of a Node (dict) that Windows support depends on."""
    labels = workloads.node_labels(node)
    status = node.get("status") or {}
    capacity = status.get("capacity") or {}
    return {
        "name": node["metadata"]["name"],
        "os": workloads.node_os(node) if workloads.node_os(node) != "unknown" else None,
        "arch": labels.get(workloads.ARCH_LABEL, labels.get("beta.kubernetes.io/arch")),
        "instance_type": labels.get("node.kubernetes.io/instance-type",
                                    labels.get("beta.kubernetes.io/instance-type")),
        "nodegroup": labels.get("eks.amazonaws.com/nodegroup"),
        "fargate": workloads.is_fargate_node(node),
        "linux": workloads.is_linux_node(node),
        "ready": any(c.get("type") == "Ready" and c.get("status") == "True"
                     for c in status.get("conditions") or []),
        "pod_capacity": int(capacity["pods"]) if "pods" in capacity else None,
        "kernel_version": (status.get("nodeInfo") or {}).get("kernelVersion"),
        "compute_type": labels.get(procedure.FARGATE_COMPUTE_LABEL),
    }


def is_standard_node(summary):
    """A node of EC2 compute that could run Windows or the system pods: not an EKS Auto Mode,
    Hybrid Nodes or Fargate node (label eks.amazonaws.com/compute-type)."""
    return summary.get("compute_type") not in (procedure.AUTO_MODE_COMPUTE_TYPE,
                                               procedure.HYBRID_COMPUTE_TYPE,
                                               procedure.FARGATE_COMPUTE_TYPE)


class ClusterReads(object):
    """Memoised reads of one cluster through a Clients (eks_access.Clients)."""

    def __init__(self, clients):
        self.clients = clients
        self.cluster = clients.cluster
        self.incomplete = []
        self._memo = {}

    def _once(self, key, func):
        if key not in self._memo:
            self._memo[key] = func()
        return self._memo[key]

    def refused(self, what):
        """Whether the AWS read `what` (e.g. "eks:DescribeAddon") was made and refused."""
        return any(entry.startswith(what + " failed") for entry in self.incomplete)

    def aws(self, what, func, missing=("ResourceNotFoundException",), **kwargs):
        """One AWS read; None when the thing does not exist (error codes `missing`) or the read
        was refused (the refusal is listed in `incomplete`)."""
        try:
            return func(aws_retry=True, **kwargs)
        except botocore.exceptions.ClientError as e:
            if _error_code(e) in missing:
                return None
            self.incomplete.append("%s failed (%s)" % (what, _error_code(e)))
            return None
        except botocore.exceptions.BotoCoreError as e:
            self.incomplete.append("%s failed (%s)" % (what, type(e).__name__))
            return None

    # --- Kubernetes ------------------------------------------------------------------------
    def nodes(self):
        return self._once("nodes", lambda: self.clients.kube.list("Node", what="Listing nodes"))

    def node_summaries(self):
        return self._once("node_summaries", lambda: [node_summary(n) for n in self.nodes()])

    def linux_nodes(self):
        return [n for n in self.node_summaries() if n["linux"]]

    def windows_nodes(self):
        return [n for n in self.node_summaries() if n["os"] == "windows"]

    def compute_facts(self):
        """What the gates need to tell an EKS Auto Mode-only or Hybrid Nodes-only cluster:
        ``standard_nodes`` (count, is_standard_node) and ``node_compute_types`` (the
        compute-type labels of the nodes)."""
        summaries = self.node_summaries()
        return {"standard_nodes": sum(1 for n in summaries if is_standard_node(n)),
                "node_compute_types": sorted(set(n["compute_type"] for n in summaries
                                                 if n.get("compute_type")))}

    def workloads(self):
        return self._once("workloads", lambda: workloads.list_workloads(self.clients.kube))

    def aws_node(self):
        """DaemonSet kube-system/aws-node: from the workloads when they were listed, else one GET."""
        if "workloads" in self._memo:
            return workloads.find(self._memo["workloads"], "DaemonSet", procedure.AWS_NODE_NAMESPACE,
                                  procedure.AWS_NODE_DAEMONSET)
        return self._once("aws_node", lambda: self.clients.kube.get(
            "DaemonSet", procedure.AWS_NODE_DAEMONSET, procedure.AWS_NODE_NAMESPACE))

    def aws_node_env(self):
        """aws-node's literal env; None when there is no aws-node DaemonSet."""
        daemonset = self.aws_node()
        return workloads.aws_node_env(daemonset) if daemonset else None

    def security_groups_for_pods(self):
        return workloads.uses_security_groups_for_pods(self.aws_node_env())

    def configmap(self):
        """ConfigMap kube-system/amazon-vpc-cni (dict) or None."""
        return self._once("configmap", lambda: self.clients.kube.get(
            "ConfigMap", procedure.VPC_CNI_CONFIGMAP, procedure.VPC_CNI_CONFIGMAP_NAMESPACE))

    def forget_configmap(self):
        self._memo.pop("configmap", None)

    def legacy_controller_present(self):
        if "legacy_objects" in self._memo:
            return any(o["name"] == procedure.LEGACY_CONTROLLER and o["kind"] == "Deployment"
                       for o in self._memo["legacy_objects"])
        return self._once("legacy_controller", lambda: legacy.legacy_controller_present(self.clients.kube))

    def legacy_objects(self):
        return self._once("legacy_objects", lambda: legacy.find_legacy_objects(
            self.clients.kube, include_csrs=procedure.serves_certificates_v1(self.cluster["version"])))

    def webhook_certificate(self):
        """Public facts of the legacy webhook's Secret as vpc_webhook_cert reads them
        (webhook_cert.describe: present, valid_pem, error, key_matches, not_after, ...)."""
        def read():
            from ansible_collections.eksops.windows.plugins.module_utils import _webhook_cert as webhook_cert  # pylint: disable=import-outside-toplevel

            return webhook_cert.describe(webhook_cert.read_secret(self.clients.kube), None)
        return self._once("webhook_certificate", read)

    def windows_pods(self):
        """The live Windows pods (workloads.is_windows_pod): those on each Windows node, by field
        selector, and the unscheduled ones that ask for Windows. The requests grow with the
        Windows nodes, not with every pod of the cluster; past WINDOWS_NODES_PER_NODE_LISTS
        Windows nodes, one paged LIST of every live pod costs less."""
        def read():
            kube = self.clients.kube
            windows = self.windows_nodes()
            names = set(n["name"] for n in windows)
            if len(windows) > WINDOWS_NODES_PER_NODE_LISTS:
                pods = kube.list("Pod", field_selector=LIVE_PODS)
            else:
                pods = kube.list("Pod", field_selector="spec.nodeName=," + LIVE_PODS,
                                 what="Listing unscheduled pods")
                for name in sorted(names):
                    pods += kube.list("Pod", field_selector="spec.nodeName=%s,%s" % (name, LIVE_PODS),
                                      what="Listing the pods of Windows node %s" % name)
            return [p for p in pods if workloads.is_windows_pod(p, names)]
        return self._once("windows_pods", read)

    def node_identity(self):
        """node_identity.audit of the cluster (memoised: the assessment and the doctor share it)."""
        def read():
            from ansible_collections.eksops.windows.plugins.module_utils import _node_identity as node_identity  # pylint: disable=import-outside-toplevel

            return node_identity.audit(self)
        return self._once("node_identity", read)

    def services(self):
        return self._once("services", lambda: self.clients.kube.list("Service"))

    def aws_auth(self):
        """ConfigMap kube-system/aws-auth (dict) or None."""
        return self._once("aws_auth", lambda: self.clients.kube.get(
            "ConfigMap", procedure.AWS_AUTH_CONFIGMAP, procedure.AWS_AUTH_NAMESPACE,
            what="Reading ConfigMap kube-system/aws-auth"))

    def forget_aws_auth(self):
        self._memo.pop("aws_auth", None)

    def events(self, kind, namespace=None):
        """The events about objects of `kind` (Pod, Node) in a namespace (all when None), by
        field selector: one LIST per namespace asked, memoised."""
        return self._once(("events", kind, namespace), lambda: self.clients.kube.list(
            "Event", namespace=namespace, field_selector="involvedObject.kind=%s" % kind,
            what="Listing the events of %ss%s" % (kind, " in %s" % namespace if namespace else "")))

    # --- AWS -------------------------------------------------------------------------------
    def _filtered(self, what, func, filter_name, key, item_key, id_key, ids, chunk=200):
        """{id: item} of a Describe call filtered by id (a filter, not an id list, so that an
        id EC2 no longer shows is absent instead of failing the call), memoised per id."""
        memo = self._memo.setdefault(("filtered", what), {})
        wanted = sorted(set(i for i in ids if i and i not in memo))
        for start in range(0, len(wanted), chunk):
            part = wanted[start:start + chunk]
            token = None
            while True:
                page = self.aws(what, func, Filters=[{"Name": filter_name, "Values": part}],
                                **({"NextToken": token} if token else {}))
                if page is None:
                    break
                for outer in page.get(key) or []:
                    for item in (outer.get(item_key) or []) if item_key else [outer]:
                        memo[item[id_key]] = item
                token = page.get("NextToken")
                if not token:
                    break
            for one in part:
                memo.setdefault(one, None)
        return dict((i, memo[i]) for i in ids if memo.get(i))

    def instances(self, instance_ids):
        """{instance id: DescribeInstances' Instance} for the ids EC2 describes."""
        ec2 = self.clients.aws("ec2")
        return self._filtered("ec2:DescribeInstances", ec2.describe_instances, "instance-id",
                              "Reservations", "Instances", "InstanceId", instance_ids)

    def images(self, image_ids):
        """{image id: DescribeImages' Image} for the images this account can still see (a
        Windows AMI made private is absent)."""
        ec2 = self.clients.aws("ec2")
        return self._filtered("ec2:DescribeImages", ec2.describe_images, "image-id", "Images",
                              None, "ImageId", image_ids)

    def subnets(self, subnet_ids):
        ec2 = self.clients.aws("ec2")
        return self._filtered("ec2:DescribeSubnets", ec2.describe_subnets, "subnet-id", "Subnets",
                              None, "SubnetId", subnet_ids)

    def instance_profile_roles(self, profile_arn):
        """The role ARNs of an instance profile (by its ARN); None when it could not be read."""
        def read():
            name = profile_arn.rsplit("/", 1)[-1]
            found = self.aws("iam:GetInstanceProfile", self.clients.aws("iam").get_instance_profile,
                             missing=("NoSuchEntity",), InstanceProfileName=name)
            if found is None:
                return None
            return [r["Arn"] for r in found["InstanceProfile"].get("Roles") or []]
        return self._once(("instance_profile", profile_arn), read)

    def access_entries(self):
        """The principal ARNs of the cluster's access entries; None when they could not be
        read. A CONFIG_MAP cluster has none (EKS refuses the call): nothing is asked."""
        def read():
            if self.cluster.get("authentication_mode", procedure.AUTH_MODE_CONFIG_MAP) == \
                    procedure.AUTH_MODE_CONFIG_MAP:
                return []
            eks = self.clients.aws("eks")
            arns, token = [], None
            while True:
                page = self.aws("eks:ListAccessEntries", eks.list_access_entries,
                                clusterName=self.cluster["name"],
                                **({"nextToken": token} if token else {}))
                if page is None:
                    return None
                arns += page.get("accessEntries") or []
                token = page.get("nextToken")
                if not token:
                    return arns
        return self._once("access_entries", read)

    def access_entry(self, principal_arn):
        """DescribeAccessEntry's accessEntry of a principal, or None."""
        def read():
            found = self.aws("eks:DescribeAccessEntry", self.clients.aws("eks").describe_access_entry,
                             clusterName=self.cluster["name"], principalArn=principal_arn)
            return (found or {}).get("accessEntry")
        return self._once(("access_entry", principal_arn), read)

    def forget_access_entries(self):
        for key in [k for k in self._memo if k == "access_entries" or
                    (isinstance(k, tuple) and k[0] == "access_entry")]:
            self._memo.pop(key)

    def ssm_parameter(self, name):
        """The value of an SSM parameter (the public Windows AMI ones), or None."""
        def read():
            found = self.aws("ssm:GetParameter", self.clients.aws("ssm").get_parameter,
                             missing=("ParameterNotFound",), Name=name)
            return ((found or {}).get("Parameter") or {}).get("Value")
        return self._once(("ssm", name), read)

    def role(self):
        """(role exists, the ARNs attached to it): (False, None) when IAM does not know the
        role, (None, None) when IAM could not be read (listed in `incomplete`)."""
        def read():
            try:
                role_name = procedure.role_name_from_arn(self.cluster["role_arn"])
            except ValueError:
                return False, None
            try:
                return True, iam_policy.list_attached(self.clients.aws("iam"), role_name)
            except iam_policy.RoleMissing:
                return False, None
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                self.incomplete.append("iam:ListAttachedRolePolicies on %s failed (%s)"
                                       % (role_name, _error_code(e)))
                self._memo["role_error"] = e
                return None, None
        return self._once("role", read)

    def role_error(self):
        """The AWS error of the role read, when there was one."""
        return self._memo.get("role_error")

    def policy_attached(self):
        exists, arns = self.role()
        if arns is None:
            return None
        return procedure.policy_arn(self.cluster["partition"]) in arns

    def _described(self, what, list_name, list_key, describe_name, name_key, item_key):
        """Every item a paginated EKS List call names, each through its Describe call."""
        eks = self.clients.aws("eks")
        eks_name = self.cluster["name"]
        items, token = [], None
        while True:
            page = self.aws("eks:List" + what, getattr(eks, list_name), clusterName=eks_name,
                            **({"nextToken": token} if token else {}))
            if page is None:
                return None if not items else items
            for name in page.get(list_key, []):
                found = self.aws("eks:Describe" + what.rstrip("s"), getattr(eks, describe_name),
                                 clusterName=eks_name, **{name_key: name})
                if found:
                    items.append(found[item_key])
            token = page.get("nextToken")
            if not token:
                return items

    def fargate_profiles(self):
        """The cluster's Fargate profiles; None when they could not be read."""
        return self._once("fargate_profiles", lambda: self._described(
            "FargateProfiles", "list_fargate_profiles", "fargateProfileNames",
            "describe_fargate_profile", "fargateProfileName", "fargateProfile"))

    def fargate_runs_coredns(self):
        """True/False; None when the Fargate profiles could not be read."""
        profiles = self.fargate_profiles()
        return None if profiles is None else procedure.fargate_runs_coredns(profiles)

    def nodegroups(self):
        return self._once("nodegroups", lambda: self._described(
            "Nodegroups", "list_nodegroups", "nodegroups", "describe_nodegroup",
            "nodegroupName", "nodegroup"))

    def cni_addon(self):
        """The EKS add-on vpc-cni (DescribeAddon's `addon`), or None."""
        def read():
            found = self.aws("eks:DescribeAddon", self.clients.aws("eks").describe_addon,
                             clusterName=self.cluster["name"], addonName=procedure.VPC_CNI_ADDON)
            return (found or {}).get("addon")
        return self._once("cni_addon", read)

    def eni_ipv4(self, instance_types):
        """What DescribeInstanceTypes (100 a call) says of each instance type:
        ``{type: {"ipv4_per_interface": int, "hypervisor": "nitro"|"xen"|None, "bare_metal": bool}}``
        (bare-metal types have no hypervisor)."""
        wanted = sorted(set(t for t in instance_types if t))
        if not wanted:
            return {}
        ec2 = self.clients.aws("ec2")
        found = {}
        for start in range(0, len(wanted), 100):
            page = self.aws("ec2:DescribeInstanceTypes", ec2.describe_instance_types,
                            InstanceTypes=wanted[start:start + 100])
            for item in (page or {}).get("InstanceTypes", []):
                found[item["InstanceType"]] = {
                    "ipv4_per_interface": item["NetworkInfo"]["Ipv4AddressesPerInterface"],
                    "hypervisor": item.get("Hypervisor"),
                    "bare_metal": item.get("BareMetal")}
        return found


def assessment_facts(reads):
    """Everything assessment.judge() needs, through the reads (what a gate already read is not
    read again)."""
    cluster = reads.cluster
    from ansible_collections.eksops.windows.plugins.module_utils._windows_support import support_of  # pylint: disable=import-outside-toplevel

    nodes = reads.node_summaries()
    facts = {"cluster": cluster, "nodes": nodes, "support": support_of(cluster)}
    facts["role_exists"], _arns = reads.role()
    facts["policy_attached"] = reads.policy_attached()
    facts["fargate_profiles"] = reads.fargate_profiles()
    facts["nodegroups"] = reads.nodegroups() or []
    facts["cni_addon"] = reads.cni_addon()
    facts["eni_ipv4"] = reads.eni_ipv4([n["instance_type"] for n in nodes if n["os"] == "windows"])
    facts["workloads"] = reads.workloads()
    facts["aws_node_env"] = reads.aws_node_env()
    configmap = reads.configmap()
    facts["configmap"] = {"data": configmap.get("data") or {},
                          "annotations": (configmap.get("metadata") or {}).get("annotations") or {},
                          "labels": (configmap.get("metadata") or {}).get("labels") or {},
                          } if configmap else None
    facts["legacy_objects"] = reads.legacy_objects()
    facts["legacy_controller"] = reads.legacy_controller_present()
    facts["webhook_certificate"] = reads.webhook_certificate() if facts["legacy_objects"] else None
    facts["pods"] = reads.windows_pods()
    # only Services that select Windows pods matter (the LoadBalancer back-end limit)
    facts["services"] = reads.services() if facts["pods"] else []
    facts.update(reads.compute_facts())
    facts["node_identity"] = reads.node_identity()
    facts["incomplete"] = reads.incomplete
    return facts
