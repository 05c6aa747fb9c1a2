"""Kubernetes objects that make a lab cluster look like an EKS cluster, as a scenario declares.

The legacy objects are written here from the install scripts' and eksctl's own manifests, on
purpose independently of the collection's tables, so tests compare the collection against
what the installers leave on a cluster.
"""

import base64
import datetime
import glob
import os
import time

import kubernetes
import yaml

from . import kube, pki

RESOURCES = {
    # kind: (group/version path, plural, namespaced)
    "Namespace": ("api/v1", "namespaces", False),
    "Node": ("api/v1", "nodes", False),
    "ConfigMap": ("api/v1", "configmaps", True),
    "Secret": ("api/v1", "secrets", True),
    "Service": ("api/v1", "services", True),
    "ServiceAccount": ("api/v1", "serviceaccounts", True),
    "Pod": ("api/v1", "pods", True),
    "Event": ("api/v1", "events", True),
    "Deployment": ("apis/apps/v1", "deployments", True),
    "DaemonSet": ("apis/apps/v1", "daemonsets", True),
    "StatefulSet": ("apis/apps/v1", "statefulsets", True),
    "ReplicaSet": ("apis/apps/v1", "replicasets", True),
    "ClusterRole": ("apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Role": ("apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "MutatingWebhookConfiguration": (
        "apis/admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", False),
    "CertificateSigningRequest": (
        "apis/certificates.k8s.io/v1", "certificatesigningrequests", False),
}

FLAVOURS = {
    "script": {"deployment": "vpc-admission-webhook-deployment",
               "service": "vpc-admission-webhook-svc"},
    "eksctl": {"deployment": "vpc-admission-webhook", "service": "vpc-admission-webhook"},
}
LINUX = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}


def collection_path(obj):
    kind = obj["kind"]
    prefix, plural, namespaced = RESOURCES[kind]
    if namespaced:
        namespace = obj["metadata"].get("namespace", "default")
        return f"/{prefix}/namespaces/{namespace}/{plural}"
    return f"/{prefix}/{plural}"


def object_path(obj):
    return f"{collection_path(obj)}/{obj['metadata']['name']}"


def _refuse_routable_pods(obj):
    """No fixture may give a pod an address off the loopback range: the Endpoints controller
    would publish it, and the API server would dial it for a webhook (see lab.py)."""
    status = obj.get("status") or {}
    for ip in [status.get("podIP")] + [p.get("ip") for p in status.get("podIPs") or []]:
        if ip and not ip.startswith("127."):
            raise ValueError(f"lab fixtures must not give pods routable addresses ({ip})")


def create(api, obj):
    kind = obj["kind"]
    if kind == "Pod":
        _refuse_routable_pods(obj)
    prefix = RESOURCES[kind][0]
    body = dict(obj)
    body.setdefault("apiVersion", prefix.split("/", 1)[1] if prefix.startswith("apis/") else "v1")
    status = body.pop("status", None)
    created = kube.request(api, "POST", collection_path(body), body=body)
    if status is not None:
        # A merge patch, not a PUT of the created object: the controller manager may touch a
        # new object (the node lifecycle controller taints a Node) between our POST and this
        # write, and a PUT carrying the old resourceVersion then fails with 409 Conflict.
        created = kube.request(api, "PATCH", object_path(body) + "/status",
                               body={"status": status},
                               content_type="application/merge-patch+json")
    return created


def node(spec, provider_id=None):
    """A Node as the scenario's node spec says; `provider_id` is the one of the instance the lab
    launched for it (aws.launch_node_instances), else one made up from the name."""
    os_name = spec.get("os", "linux")
    labels = {
        "kubernetes.io/os": os_name,
        "kubernetes.io/arch": spec.get("arch", "amd64"),
        "beta.kubernetes.io/os": os_name,
        "beta.kubernetes.io/arch": spec.get("arch", "amd64"),
        "node.kubernetes.io/instance-type": spec.get("instance_type", "m5.large"),
        "beta.kubernetes.io/instance-type": spec.get("instance_type", "m5.large"),
        "kubernetes.io/hostname": spec["name"],
    }
    if spec.get("nodegroup"):
        labels["eks.amazonaws.com/nodegroup"] = spec["nodegroup"]
    if spec.get("compute_type"):  # auto (EKS Auto Mode), hybrid (Hybrid Nodes) or fargate
        labels["eks.amazonaws.com/compute-type"] = spec["compute_type"]
    if spec.get("karpenter"):
        labels["karpenter.sh/nodepool"] = "default"
        labels["karpenter.sh/registered"] = "true"
    labels.update(spec.get("labels", {}))
    capacity = {"cpu": "2", "memory": "8Gi", "pods": str(spec.get("pods", 29))}
    # ipv4_addresses: null is a Windows node that advertises no such capacity (the VPC resource
    # controller has not set it up)
    if os_name == "windows" and spec.get("ipv4_addresses", 9) is not None:
        capacity["vpc.amazonaws.com/PrivateIPv4Address"] = str(spec.get("ipv4_addresses", 9))
    now = pki.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "kind": "Node",
        "metadata": {"name": spec["name"], "labels": labels},
        "spec": {"providerID": provider_id or f"aws:///us-west-2a/i-{abs(hash(spec['name'])) % 10**17:017x}"},
        "status": {
            "capacity": capacity, "allocatable": capacity,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "lab node", "lastHeartbeatTime": now,
                            "lastTransitionTime": now}],
            "nodeInfo": {"operatingSystem": os_name, "architecture": spec.get("arch", "amd64"),
                         "kubeletVersion": spec.get("kubelet_version", "v1.20.2"),
                         "kubeProxyVersion": spec.get("kubelet_version", "v1.20.2"),
                         "osImage": spec.get("os_image") or (
                             "Windows Server 2019 Datacenter" if os_name == "windows"
                             else "Amazon Linux 2"),
                         "containerRuntimeVersion": "containerd://1.6.6",
                         # what a kubelet reports: 10.0.17763.xxxx on Windows Server 2019
                         "kernelVersion": spec.get("kernel_version", ""),
                         "machineID": "", "systemUUID": "", "bootID": ""},
        },
    }


def deployment(name, namespace, labels, containers, node_selector=None, host_network=False,
               replicas=1, strategy=None, volumes=None, service_account=None):
    pod_spec = {"containers": containers}
    if node_selector:
        pod_spec["nodeSelector"] = node_selector
    if host_network:
        pod_spec["hostNetwork"] = True
    if volumes:
        pod_spec["volumes"] = volumes
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    spec = {"replicas": replicas, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec}}
    if strategy:
        spec["strategy"] = {"type": strategy}
    return {"kind": "Deployment", "metadata": {"name": name, "namespace": namespace,
                                               "labels": labels}, "spec": spec}


def aws_node(env):
    merged = {"AWS_VPC_K8S_CNI_LOGLEVEL": "DEBUG", "ENABLE_POD_ENI": "false",
              "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "false", "ENABLE_PREFIX_DELEGATION": "false"}
    merged.update({k: str(v) for k, v in (env or {}).items()})
    labels = {"k8s-app": "aws-node"}
    return {
        "kind": "DaemonSet",
        "metadata": {"name": "aws-node", "namespace": "kube-system", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "hostNetwork": True, "nodeSelector": LINUX,
                "containers": [{"name": "aws-node", "image": "amazon-k8s-cni:v1.12.0",
                                "env": [{"name": k, "value": v} for k, v in merged.items()]}],
            }},
        },
    }


def coredns():
    return deployment("coredns", "kube-system", {"k8s-app": "kube-dns"},
                      [{"name": "coredns", "image": "eks/coredns:v1.8.0"}],
                      node_selector={"kubernetes.io/os": "linux"}, replicas=2)


def eks_vpc_webhook(ca_pem):
    """EKS's own webhook (never to be deleted); selects nothing in the lab."""
    return {
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "vpc-resource-mutating-webhook"},
        "webhooks": [{
            "name": "mpod.vpc.k8s.aws", "sideEffects": "None",
            "admissionReviewVersions": ["v1"], "failurePolicy": "Ignore",
            "clientConfig": {"url": "https://127.0.0.1:1/mutate-v1-pod",
                             "caBundle": base64.b64encode(ca_pem).decode()},
            "namespaceSelector": {"matchLabels": {"eksops-lab/never": "true"}},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                       "resources": ["pods"]}],
        }],
    }


def webhook_certificate(ca_key, ca_cert, service, days_left):
    """Key and certificate as the install script makes them, expiring in `days_left` days."""
    key = pki.new_key()
    not_after = pki.now() + datetime.timedelta(days=days_left)
    cert = pki.issue(
        ca_key, ca_cert, key.public_key(), pki.subject(f"{service}.kube-system.svc"),
        server=True, dns_names=(service, f"{service}.kube-system", f"{service}.kube-system.svc"),
        not_before=not_after - datetime.timedelta(days=365), not_after=not_after,
    )
    return pki.key_pem(key), pki.cert_pem(cert)


def legacy(flavour, ca_key, ca_cert, region_image_prefix, cert_days_left=200, secret=None,
           broken=None):
    """The objects a legacy install of `flavour` leaves on a cluster. `broken: no_key` leaves
    key.pem out of its webhook Secret."""
    names = FLAVOURS[flavour]
    service = names["service"]
    image = region_image_prefix
    objects = [
        {"kind": "ServiceAccount",
         "metadata": {"name": "vpc-resource-controller", "namespace": "kube-system"}},
        {"kind": "ClusterRole", "metadata": {"name": "vpc-resource-controller"},
         "rules": [{"apiGroups": [""], "resources": ["nodes", "nodes/status", "pods", "configmaps"],
                    "verbs": ["update", "get", "list", "watch", "patch", "create"]}]},
        {"kind": "ClusterRoleBinding", "metadata": {"name": "vpc-resource-controller"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "vpc-resource-controller"},
         "subjects": [{"kind": "ServiceAccount", "name": "vpc-resource-controller",
                       "namespace": "kube-system"}]},
        deployment("vpc-resource-controller", "kube-system", {"app": "vpc-resource-controller"},
                   [{"name": "vpc-resource-controller",
                     "image": f"{image}/eks/windows-vpc-resource-controller:v0.2.7",
                     "command": ["/vpc-resource-controller"],
                     "args": ["-stderrthreshold=info"]}],
                   node_selector=LINUX, host_network=True,
                   service_account="vpc-resource-controller"),
        {"kind": "Service", "metadata": {"name": service, "namespace": "kube-system",
                                         "labels": {"app": "vpc-admission-webhook"}},
         "spec": {"ports": [{"port": 443, "targetPort": 443}],
                  "selector": {"app": "vpc-admission-webhook"}}},
        deployment(names["deployment"], "kube-system", {"app": "vpc-admission-webhook"},
                   [{"name": "vpc-admission-webhook",
                     "image": f"{image}/eks/vpc-admission-webhook:v0.2.7",
                     "args": ["-tlsCertFile=/etc/webhook/certs/cert.pem",
                              "-tlsKeyFile=/etc/webhook/certs/key.pem",
                              "-OSLabelSelectorOverride=windows", "-alsologtostderr", "-v=4"],
                     "volumeMounts": [{"name": "webhook-certs", "mountPath": "/etc/webhook/certs",
                                       "readOnly": True}]}],
                   node_selector=LINUX, host_network=True, strategy="Recreate",
                   volumes=[{"name": "webhook-certs",
                             "secret": {"secretName": "vpc-admission-webhook-certs"}}]),
        {"kind": "MutatingWebhookConfiguration",
         "metadata": {"name": "vpc-admission-webhook-cfg",
                      "labels": {"app": "vpc-admission-webhook"}},
         "webhooks": [{
             "name": "vpc-admission-webhook.amazonaws.com", "sideEffects": "None",
             "admissionReviewVersions": ["v1beta1"], "failurePolicy": "Ignore",
             "clientConfig": {"service": {"name": service, "namespace": "kube-system",
                                          "path": "/mutate"},
                              "caBundle": base64.b64encode(pki.cert_pem(ca_cert)).decode()},
             "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                        "resources": ["pods"]}],
         }]},
    ]
    if broken not in (None, "no_key"):
        raise ValueError("legacy broken: %r is not no_key" % (broken,))
    if secret is None:
        key_pem, cert_pem = webhook_certificate(ca_key, ca_cert, service, cert_days_left)
        secret = {"cert.pem": cert_pem} if broken == "no_key" else {"key.pem": key_pem, "cert.pem": cert_pem}
    objects.append({
        "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "vpc-admission-webhook-certs", "namespace": "kube-system"},
        "data": {k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode()
                 for k, v in secret.items()},
    })
    return objects


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def manifest_objects(patterns):
    """The objects of YAML manifest files (paths or globs relative to the repository, e.g. the
    shipped RBAC docs/permissions/rbac/*.yml), in file order."""
    objects = []
    for pattern in patterns:
        paths = sorted(glob.glob(os.path.join(ROOT, pattern)))
        if not paths:
            raise ValueError(f"no manifest matches {pattern}")
        for path in paths:
            with open(path, encoding="utf-8") as handle:
                objects += expand_lists(yaml.safe_load_all(handle))
    return objects


def expand_lists(documents):
    """The objects of YAML documents, each `kind: List` replaced by its items (the shipped RBAC
    files are one List each, as kubectl applies them)."""
    objects = []
    for doc in documents:
        if doc and doc.get("kind") == "List":
            objects += [item for item in doc.get("items") or [] if item]
        elif doc:
            objects.append(doc)
    return objects


IPV4 = "vpc.amazonaws.com/PrivateIPv4Address"
WINDOWS_IMAGE = "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022"


def pod(spec, index):
    """A Windows pod from the scenario's concise `pods` entry; Running pods get the 127.0.0.x
    address (see _refuse_routable_pods) and the annotation the VPC resource controller sets."""
    selector = spec.get("selector", "nodeSelector")
    pod_spec = {"containers": [{"name": spec["name"], "image": spec.get("image", WINDOWS_IMAGE)}]}
    if spec.get("ipv4_request", True):
        pod_spec["containers"][0]["resources"] = {"requests": {IPV4: "1"}, "limits": {IPV4: "1"}}
    if selector == "nodeSelector":
        pod_spec["nodeSelector"] = {"kubernetes.io/os": "windows"}
    elif selector == "beta_label":
        pod_spec["nodeSelector"] = {"beta.kubernetes.io/os": "windows"}
    elif selector == "affinity":
        pod_spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}]}]}}}
    elif selector is not None:
        raise ValueError(f"pod {spec['name']}: selector {selector!r} is not nodeSelector, affinity "
                         "or beta_label")
    if spec.get("node"):
        pod_spec["nodeName"] = spec["node"]
    phase = spec.get("phase", "Running")
    metadata = {"name": spec["name"], "namespace": spec.get("namespace", "default"),
                "labels": {"app": spec["name"]}}
    now = pki.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    ready = "True" if spec.get("ready", phase == "Running") else "False"
    status = {"phase": phase, "conditions": [
        {"type": "PodScheduled", "status": "True" if spec.get("node") else "False",
         "lastTransitionTime": now},
        {"type": "Ready", "status": ready, "lastTransitionTime": now}]}
    if not spec.get("node"):
        status["conditions"][0].update(reason="Unschedulable", message="lab: not scheduled")
    if phase == "Running":
        address = f"127.0.0.{10 + index}"
        metadata["annotations"] = {IPV4: f"{address}/32"}
        status.update(podIP=address, podIPs=[{"ip": address}], hostIP="127.0.0.1", startTime=now,
                      containerStatuses=[{"name": spec["name"], "ready": ready == "True",
                                          "restartCount": 0, "image": pod_spec["containers"][0]["image"],
                                          "imageID": "", "state": {"running": {"startedAt": now}}}])
    return {"kind": "Pod", "metadata": metadata, "spec": pod_spec, "status": status}


def apply_events(api, events):
    """The scenario's `events` as core/v1 Events, after the objects they point at exist (the
    involved object's uid is read back from the API server)."""
    now = pki.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    for index, spec in enumerate(events):
        involved = dict(spec["involved"])
        kind = involved.get("kind", "Pod")
        namespace = involved.get("namespace", "default") if RESOURCES[kind][2] else None
        ref = {"kind": kind, "name": involved["name"], "apiVersion": "v1"}
        target = {"kind": kind, "metadata": {"name": involved["name"]}}
        if namespace:
            ref["namespace"] = namespace
            target["metadata"]["namespace"] = namespace
        try:
            found = kube.request(api, "GET", object_path(target))
            ref["uid"] = found["metadata"]["uid"]
            ref["resourceVersion"] = found["metadata"]["resourceVersion"]
        except kubernetes.client.exceptions.ApiException as error:
            if error.status != 404:
                raise
        source = spec.get("source", "default-scheduler")
        event = {
            "kind": "Event",
            "metadata": {"name": f"{involved['name']}.lab{index:04d}",
                         "namespace": namespace or "default"},
            "involvedObject": ref, "reason": spec["reason"], "message": spec["message"],
            "type": spec.get("type", "Warning"), "count": spec.get("count", 1),
            "source": {"component": source}, "reportingComponent": source,
            "reportingInstance": spec.get("reporting_instance", ""),
            "firstTimestamp": now, "lastTimestamp": now,
        }
        if source == "kubelet" and spec.get("host"):
            event["source"]["host"] = spec["host"]
        create(api, event)


WINDOWS_NODE_GROUPS = ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"]
LINUX_NODE_GROUPS = ["system:bootstrappers", "system:nodes"]


def node_role_mappings(cluster):
    """The aws-auth mappings of the node roles a scenario's nodes use, as EKS writes them for
    managed node groups and as the guide has them for self-managed nodes (the Windows group
    where Windows nodes use the role), for scenarios that do not set up node identity themselves:
    a cluster with `node_roles` or `aws_auth_raw` (doctor.yml) or `map_node_roles: false` gets
    only what it lists."""
    if cluster.get("node_roles") or cluster.get("aws_auth_raw") or cluster.get("map_node_roles") is False:
        return []
    from .aws import ACCOUNT, partition_of  # pylint: disable=import-outside-toplevel

    default = "%s-node-role" % cluster["name"]
    groups = dict((g["name"], g) for g in cluster.get("nodegroups", []))
    windows = {}
    for group in groups.values():
        role = group.get("node_role") or default
        windows[role] = windows.get(role, False) or group.get("ami_type", "").startswith("WINDOWS_")
    for spec in cluster.get("nodes", []):
        if spec.get("compute_type") in ("fargate", "hybrid", "auto"):
            continue
        group = groups.get(spec.get("nodegroup"))
        role = spec.get("node_role") or ((group or {}).get("node_role") if group else None) or default
        windows[role] = windows.get(role, False) or spec.get("os") == "windows"
    listed = set(m.get("rolearn") for m in cluster.get("map_roles", []))
    partition = partition_of(cluster.get("region", "us-west-2"))
    mappings = []
    for role, is_windows in sorted(windows.items()):
        arn = "arn:%s:iam::%s:role/%s" % (partition, ACCOUNT, role)
        if arn not in listed:
            mappings.append({"rolearn": arn, "username": "system:node:{{EC2PrivateDNSName}}",
                             "groups": WINDOWS_NODE_GROUPS if is_windows else LINUX_NODE_GROUPS})
    return mappings


def cluster_objects(cluster, ca_key, ca_cert, creator_arn, image_prefix, instances=None):
    """Every object the scenario declares for one cluster, in creation order; `instances` are
    the EC2 instances behind its nodes ({node name: {"provider_id": ...}})."""
    objects = []
    instances = instances or {}
    for spec in cluster.get("nodes", []):
        objects.append(node(spec, (instances.get(spec["name"]) or {}).get("provider_id")))
    if cluster.get("aws_node", True) is not False:
        env = cluster.get("aws_node") if isinstance(cluster.get("aws_node"), dict) else {}
        objects.append(aws_node(env))
    if cluster.get("coredns", True):
        objects.append(coredns())
    cni = cluster.get("vpc_cni_configmap", {"enable-windows-ipam": "false"})
    if cni is not None:
        metadata = {"name": "amazon-vpc-cni", "namespace": "kube-system"}
        helm = cluster.get("vpc_cni_helm")
        if helm:  # what Helm 3 puts on every object of a release
            metadata["labels"] = {"app.kubernetes.io/managed-by": "Helm"}
            metadata["annotations"] = {
                "meta.helm.sh/release-name": helm.get("release", "aws-vpc-cni"),
                "meta.helm.sh/release-namespace": helm.get("namespace", "kube-system")}
        objects.append({"kind": "ConfigMap", "metadata": metadata,
                        "data": {k: str(v) for k, v in cni.items()}})
    aws_auth = {"mapRoles": yaml.safe_dump(list(cluster.get("map_roles", [])) + node_role_mappings(cluster)),
                "mapUsers": yaml.safe_dump(cluster.get("map_users", []))}
    # aws_auth_raw: the ConfigMap's text exactly as given (hand-written YAML, comments and all)
    aws_auth.update(cluster.get("aws_auth_raw") or {})
    objects.append({"kind": "ConfigMap",
                    "metadata": {"name": "aws-auth", "namespace": "kube-system",
                                 "annotations": {"eksops-lab/creator": creator_arn}},
                    "data": aws_auth})
    if cluster.get("eks_vpc_webhook", True):
        objects.append(eks_vpc_webhook(pki.cert_pem(ca_cert)))
    for install in cluster.get("legacy", []):
        objects.extend(legacy(install["flavour"], ca_key, ca_cert, image_prefix,
                              cert_days_left=install.get("cert_days_left", 200),
                              secret=install.get("secret"), broken=install.get("broken")))
    objects.extend(cluster.get("objects", []))
    objects.extend(manifest_objects(cluster.get("manifests", [])))
    pods = cluster.get("pods", [])
    declared = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    for namespace in sorted({p.get("namespace", "default") for p in pods}):
        if namespace not in declared | {"default", "kube-system", "kube-public"}:
            objects.append({"kind": "Namespace", "metadata": {"name": namespace}})
    objects.extend(pod(spec, index) for index, spec in enumerate(pods))
    unique = {}
    for obj in objects:  # two flavours share the controller objects and the Secret
        key = (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        unique.setdefault(key, obj)
    return list(unique.values())


def apply(api, objects, timeout=30):
    for obj in objects:
        deadline = time.monotonic() + timeout
        while True:
            try:
                create(api, obj)
                break
            except kubernetes.client.exceptions.ApiException as error:
                # a Pod needs its namespace's default ServiceAccount and that account's token,
                # which the controller manager creates a moment after it starts (403 "service
                # account ... not found", then 500 "No API token found for service account")
                waiting = error.status in (403, 500) and "service account" in (error.body or "")
                if not waiting or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
