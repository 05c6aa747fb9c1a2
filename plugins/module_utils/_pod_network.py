# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why has this Windows pod no IP address: one named cause and remedy per Windows pod that is
not running, from an ordered checklist (procedure.POD_CAUSES), with the events of the pod and
of its node as evidence.

The order is the vpc-resource-controller's own troubleshooting order (its docs: the ConfigMap,
the node's resource capacity, the pod's resource limit, the pod's IPv4 annotation, the Windows
host), with the causes that hold for the whole cluster first: each of them alone explains every
pod, and fixing a later one does not help while an earlier one holds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.eksops.windows.plugins.module_utils import (
    _procedure as procedure,
    _workloads as workloads,
)

EVENTS_PER_POD = 5
REMEDIES = {
    "windows_ipam_off": "Enable Windows support (role enable, or module eks_windows_support): it "
                        "writes enable-windows-ipam to its owner (the vpc-cni add-on's configuration "
                        "values, or the ConfigMap).",
    "legacy_controller_present": "Remove the legacy data-plane components (role legacy_remove): "
                                 "EKS's controller turns Windows IPAM off while Deployment "
                                 "kube-system/vpc-resource-controller exists.",
    "cluster_role_lacks_policy": "Attach AmazonEKSVPCResourceController to the cluster role "
                                 "(role enable does it).",
    "node_without_ipv4_capacity": "Check that the node joined with its Windows labels and that "
                                  "the controller manages it (its events); a node that joined "
                                  "before Windows IPAM was on may need to be replaced.",
    "pod_lacks_ipv4_request": "Select Windows with nodeSelector kubernetes.io/os: windows (the "
                              "webhook reads nodeSelector only), then re-create the pod.",
    "node_ipv4_slots_full": "Scale out the Windows nodes, use larger instance types, or turn on "
                            "Windows prefix delegation (role prefix_delegation).",
    "subnet_out_of_addresses": "Free addresses in the node's subnet, or add Windows nodes in a "
                               "subnet with free addresses.",
    "controller_event": "Act on the controller's event shown.",
    "ip_assigned_host_problem": "The controller assigned an address: look on the Windows host "
                                "(vpc-bridge CNI and kubelet logs, the pod's sandbox events).",
    "unknown": "No cause found in what the API shows: read the pod's and the node's events.",
    "none": "",
}


def ipv4_requested(pod):
    """Whether any container of the pod requests (or limits) the IPv4 address resource: what
    the control-plane webhook adds to a pod that selects Windows by nodeSelector."""
    spec = pod.get("spec") or {}
    for container in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        resources = container.get("resources") or {}
        for part in ("requests", "limits"):
            if procedure.IPV4_RESOURCE in (resources.get(part) or {}):
                return True
    return False


def ipv4_quantity(pod):
    spec = pod.get("spec") or {}
    total = 0
    for container in spec.get("containers") or []:
        resources = container.get("resources") or {}
        value = (resources.get("requests") or {}).get(procedure.IPV4_RESOURCE) or \
            (resources.get("limits") or {}).get(procedure.IPV4_RESOURCE)
        try:
            total += int(value) if value is not None else 0
        except (TypeError, ValueError):
            total += 1
    return total


def node_ipv4_capacity(node):
    """The node's allocatable IPv4 address resource (int), None when it advertises none."""
    status = node.get("status") or {}
    for part in ("allocatable", "capacity"):
        value = (status.get(part) or {}).get(procedure.IPV4_RESOURCE)
        if value is not None:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


def _event_words(event):
    return {"object": "%s/%s" % ((event.get("involvedObject") or {}).get("kind"),
                                 (event.get("involvedObject") or {}).get("name")),
            "reason": event.get("reason"), "message": event.get("message"),
            "source": ((event.get("source") or {}).get("component")
                       or event.get("reportingComponent") or event.get("reportingController")),
            "type": event.get("type"), "count": event.get("count") or 1,
            "last": event.get("lastTimestamp") or event.get("eventTime")
            or (event.get("metadata") or {}).get("creationTimestamp")}


def _by_object(events):
    found = {}
    for event in events or []:
        involved = event.get("involvedObject") or {}
        found.setdefault((involved.get("namespace") or None, involved.get("name")), []).append(event)
    for items in found.values():
        items.sort(key=lambda e: "%s" % (_event_words(e)["last"] or ""), reverse=True)
    return found


def _from_controller(event):
    return (_event_words(event)["source"] or "") in procedure.CONTROLLER_EVENT_SOURCES


def cluster_causes(reads):
    """The causes that hold for every Windows pod of the cluster: [(cause, detail)]."""
    causes = []
    legacy = reads.legacy_controller_present()
    configmap = reads.configmap()
    ipam = ((configmap or {}).get("data") or {}).get(procedure.WINDOWS_IPAM_KEY)
    if not procedure.truthy(ipam) and not legacy:
        addon = reads.cni_addon()
        owner = ""
        if addon is not None:
            owner = " (the vpc-cni add-on owns the ConfigMap: its configuration values must set %s)" \
                % procedure.VPC_CNI_ADDON_WINDOWS_KEY
        causes.append(("windows_ipam_off", "ConfigMap kube-system/amazon-vpc-cni has %s: %s%s" % (
            procedure.WINDOWS_IPAM_KEY, "not set" if ipam is None else '"%s"' % ipam, owner)))
    if legacy and procedure.truthy(ipam):
        causes.append(("legacy_controller_present", "Deployment kube-system/%s exists, so EKS's "
                       "controller reports Windows IPAM disabled" % procedure.LEGACY_CONTROLLER))
    if not legacy:
        has_linux = bool(reads.linux_nodes())
        needed = procedure.policy_needed("enabled", has_linux, reads.security_groups_for_pods())[0]
        if needed and reads.policy_attached() is False:
            causes.append(("cluster_role_lacks_policy", "cluster role %s lacks %s" % (
                reads.cluster.get("role_arn"), procedure.VPC_RESOURCE_CONTROLLER_POLICY)))
    return causes


def diagnose(reads, scope="not_running"):
    """One record per Windows pod that is not Running (all with scope `all`), in namespace and
    name order: namespace, name, node, phase, ready, cause, detail, remedy, events."""
    pods = reads.windows_pods()
    if scope != "all":
        pods = [p for p in pods if (p.get("status") or {}).get("phase") != "Running"]
    if not pods:
        return []
    nodes = dict((n["metadata"]["name"], n) for n in reads.nodes())
    windows_nodes = [n for n in nodes.values() if workloads.is_windows_node(n)]
    every = reads.windows_pods()
    used = {}
    for pod in every:
        node = (pod.get("spec") or {}).get("nodeName")
        if node and (pod.get("status") or {}).get("phase") == "Running":
            used[node] = used.get(node, 0) + ipv4_quantity(pod)
    cluster_wide = cluster_causes(reads)
    pod_events = {}
    for namespace in sorted(set(p["metadata"].get("namespace") for p in pods)):
        pod_events.update(_by_object(reads.events("Pod", namespace)))
    node_events = _by_object(reads.events("Node")) if any(
        (p.get("spec") or {}).get("nodeName") for p in pods) else {}
    subnets = _node_subnets(reads, [nodes[n] for n in set(
        (p.get("spec") or {}).get("nodeName") for p in pods) if n in nodes])
    records = []
    for pod in sorted(pods, key=lambda p: (p["metadata"].get("namespace"), p["metadata"]["name"])):
        meta = pod["metadata"]
        node_name = (pod.get("spec") or {}).get("nodeName")
        events = list(pod_events.get((meta.get("namespace"), meta["name"]), []))
        events += node_events.get((None, node_name), []) if node_name else []
        cause, detail = _cause(pod, node_name, nodes, windows_nodes, used, cluster_wide, events, subnets)
        status = pod.get("status") or {}
        records.append({
            "namespace": meta.get("namespace"), "name": meta["name"], "node": node_name,
            "phase": status.get("phase"),
            "ready": any(c.get("type") == "Ready" and c.get("status") == "True"
                         for c in status.get("conditions") or []),
            "cause": cause, "detail": detail, "remedy": REMEDIES[cause],
            "events": [_event_words(e) for e in events[:EVENTS_PER_POD]]})
    return records


def _node_subnets(reads, nodes):
    """{node name: DescribeSubnets' Subnet} through each node's EC2 instance."""
    from ansible_collections.eksops.windows.plugins.module_utils._node_identity import provider_instance_id  # pylint: disable=import-outside-toplevel

    ids = dict((n["metadata"]["name"], provider_instance_id(n)) for n in nodes)
    instances = reads.instances([i for i in ids.values() if i]) if any(ids.values()) else {}
    subnet_of = dict((name, (instances.get(i) or {}).get("SubnetId")) for name, i in ids.items())
    subnets = reads.subnets([s for s in subnet_of.values() if s]) if any(subnet_of.values()) else {}
    return dict((name, subnets.get(s)) for name, s in subnet_of.items() if subnets.get(s))


def _full(node, used):
    capacity = node_ipv4_capacity(node)
    return capacity is not None and used.get(node["metadata"]["name"], 0) >= capacity


def _cause(pod, node_name, nodes, windows_nodes, used, cluster_wide, events, subnets):
    status = pod.get("status") or {}
    if status.get("phase") == "Running" and status.get("podIP"):
        return "none", "running with address %s" % status["podIP"]
    if cluster_wide:
        return cluster_wide[0]
    node = nodes.get(node_name) if node_name else None
    if node is not None and node_ipv4_capacity(node) is None:
        return "node_without_ipv4_capacity", "node %s advertises no %s" % (node_name, procedure.IPV4_RESOURCE)
    if node is None and windows_nodes and all(node_ipv4_capacity(n) is None for n in windows_nodes):
        return "node_without_ipv4_capacity", "no Windows node advertises %s" % procedure.IPV4_RESOURCE
    if not ipv4_requested(pod):
        via = workloads.os_constraint(pod.get("spec") or {})
        selector = (pod.get("spec") or {}).get("nodeSelector") or {}
        if via["via"] == "affinity":
            why = "it selects Windows by node affinity, which the webhook does not read"
        elif selector.get(workloads.BETA_OS_LABEL) and not selector.get(workloads.OS_LABEL):
            why = "it selects Windows by the beta label %s only" % workloads.BETA_OS_LABEL
        elif selector.get(workloads.OS_LABEL) == "windows":
            why = ("it selects Windows by nodeSelector but was not mutated (created before "
                   "Windows support was on, or while the webhook was unavailable)")
        else:
            why = "it runs on a Windows node without selecting Windows"
        return "pod_lacks_ipv4_request", "the pod requests no %s: %s" % (procedure.IPV4_RESOURCE, why)
    insufficient = [e for e in events if "Insufficient %s" % procedure.IPV4_RESOURCE in (e.get("message") or "")]
    if node is not None and _full(node, used):
        return "node_ipv4_slots_full", "node %s: %d of %d addresses in use" % (
            node_name, used.get(node_name, 0), node_ipv4_capacity(node))
    with_capacity = [n for n in windows_nodes if node_ipv4_capacity(n) is not None]
    if node is None and (insufficient or (with_capacity and all(_full(n, used) for n in with_capacity))):
        words = "; ".join("%s %d/%s" % (n["metadata"]["name"], used.get(n["metadata"]["name"], 0),
                                        node_ipv4_capacity(n)) for n in windows_nodes)
        return "node_ipv4_slots_full", "no Windows node has a free address (%s)%s" % (
            words, "; the scheduler says: %s" % insufficient[0].get("message") if insufficient else "")
    subnet = subnets.get(node_name) if node_name else None
    if subnet is not None and int(subnet.get("AvailableIpAddressCount") or 0) == 0:
        return "subnet_out_of_addresses", "node %s's subnet %s has no free address" % (
            node_name, subnet.get("SubnetId"))
    controller = [e for e in events if _from_controller(e) and e.get("type") == "Warning"]
    if controller:
        words = _event_words(controller[0])
        return "controller_event", "%s: %s (%s)" % (words["reason"], words["message"], words["object"])
    if ((pod.get("metadata") or {}).get("annotations") or {}).get(procedure.IPV4_ANNOTATION):
        return "ip_assigned_host_problem", "the controller assigned %s" % (
            pod["metadata"]["annotations"][procedure.IPV4_ANNOTATION])
    return "unknown", "nothing the API shows explains it"


def finding_of(records, finding):
    """The assessment's finding for the records (`finding` is assessment.finding), or None."""
    records = [r for r in records if r["cause"] != "none"]
    if not records:
        return None
    counts = {}
    for record in records:
        counts[record["cause"]] = counts.get(record["cause"], 0) + 1
    causes = [c for c in procedure.POD_CAUSES if c in counts]
    return finding(
        "windows_pods_without_ip",
        "%d Windows pod(s) not running: %s." % (len(records), ", ".join(
            "%s %d" % (c, counts[c]) for c in causes)),
        " ".join(REMEDIES[c] for c in causes),
        ["Pod/%s/%s" % (r["namespace"], r["name"]) for r in records])
