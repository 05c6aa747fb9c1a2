"""The lab's AWS: moto in this process, with EKS clusters that point at the lab's API servers."""

import base64
import datetime
import fnmatch
import json
import re
import uuid
from urllib.parse import unquote

import boto3

ACCOUNT = "123456789012"
ADMIN_USER = "lab-admin"

EKS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "eks.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }],
}
NODE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }],
}


WINDOWS_AMI_OWNER = "801119661308"  # Amazon's owner id of its Windows AMIs
EKS_AMI_OWNER = "602401143452"  # Amazon's owner id of the EKS-optimized Linux AMIs
NODE_COMPUTE_WITHOUT_INSTANCE = ("fargate", "hybrid")
# IAM names are account-wide: node roles and instance profiles made for any cluster of the lab
ROLES = {}
PROFILES = {}


def partition_of(region):
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _client(service, endpoint, region, credentials):
    return boto3.client(
        service, region_name=region, endpoint_url=endpoint,
        aws_access_key_id=credentials["access_key"],
        aws_secret_access_key=credentials["secret_key"],
    )


def create_admin(endpoint):
    """The IAM user that creates every lab cluster (so it is their system:masters identity)."""
    bootstrap = {"access_key": "AKIALABBOOTSTRAP0000", "secret_key": "bootstrap"}
    iam = _client("iam", endpoint, "us-east-1", bootstrap)
    iam.create_user(UserName=ADMIN_USER)
    iam.attach_user_policy(UserName=ADMIN_USER,
                           PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    arn = iam.get_user(UserName=ADMIN_USER)["User"]["Arn"]
    return {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"], "arn": arn}


def create_user(endpoint, credentials, user_name, policy=None):
    """Another IAM user, for tests of identity mapping (aws-auth) and of AccessDenied (an inline
    policy, which the lab enforces on IAM actions: see enforce_iam_policies)."""
    iam = _client("iam", endpoint, "us-east-1", credentials)
    iam.create_user(UserName=user_name)
    if policy:
        iam.put_user_policy(UserName=user_name, PolicyName=f"{user_name}-policy",
                            PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    arn = iam.get_user(UserName=user_name)["User"]["Arn"]
    return {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"], "arn": arn}


def _ensure_node_role(iam, name, path="/"):
    """An IAM node role (EC2 trust, NODE_TRUST) and an instance profile of the same name holding
    it, as EKS's docs and eksctl make them; made once per lab."""
    if name not in ROLES:
        ROLES[name] = iam.create_role(RoleName=name, Path=path or "/",
                                      AssumeRolePolicyDocument=json.dumps(NODE_TRUST))["Role"]["Arn"]
    _ensure_profile(iam, name, name, path)
    return ROLES[name]


def _ensure_profile(iam, profile, role, path="/"):
    if profile not in PROFILES:
        iam.create_instance_profile(InstanceProfileName=profile, Path=path or "/")
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
        PROFILES[profile] = role
    return profile


def _role_name(value):
    """A role name from a scenario's role name or ARN."""
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def _principal_arn(value, partition):
    if value.startswith("arn:"):
        return value
    return f"arn:{partition}:iam::{ACCOUNT}:role{ROLES_PATHS.get(value, '/')}{value}"


ROLES_PATHS = {}


def install_ec2_patches():
    """moto computes a subnet's AvailableIpAddressCount from its network interfaces: a subnet
    that a scenario gives `available_ips` keeps that count (EC2 would count down as instances
    launch; a scenario says what it wants the count to be)."""
    from moto.ec2.models.subnets import Subnet  # pylint: disable=import-outside-toplevel

    computed = Subnet.available_ip_address_count
    if getattr(computed, "lab_patched", False):
        return

    def available(self):
        override = getattr(self, "lab_available_ips", None)
        return computed.fget(self) if override is None else override

    available.lab_patched = True
    Subnet.available_ip_address_count = property(available)
    Subnet.available_ip_address_count.fget.lab_patched = True


def iso_ec2(moment):
    """A time as EC2 writes CreationDate: 2026-08-01T10:00:00.000Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def ssm_public_name(image_name):
    """/aws/service/ami-windows-latest/<name without its trailing -<date>>/image_id."""
    base = re.sub(r"-\d{4}\.\d{2}\.\d{2}$", "", image_name)
    return f"/aws/service/ami-windows-latest/{base}/image_id"


def register_windows_amis(region, amis):
    """The scenario's Windows AMIs (top-level `windows_amis`) in moto's EC2 of `region`, owned by
    Amazon's Windows owner, with the CreationDate it says, and their SSM public parameters
    (ssm: true) in moto's SSM, where a user could not write them (moto refuses /aws names):
    {key: image id}."""
    from moto.ec2.models import ec2_backends  # pylint: disable=import-outside-toplevel
    from moto.ec2.models.amis import Ami  # pylint: disable=import-outside-toplevel
    from moto.ssm.models import Parameter, ssm_backends  # pylint: disable=import-outside-toplevel

    ec2 = ec2_backends[ACCOUNT][region]
    ssm = ssm_backends[ACCOUNT][region]
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    ids = {}
    for spec in amis:
        created = now - datetime.timedelta(days=spec.get("created_days_ago", 0))
        image_id = "ami-" + uuid.uuid5(uuid.NAMESPACE_DNS, f"{region}/{spec['name']}").hex[:17]
        ami = Ami(ec2, image_id, name=spec["name"], owner_id=WINDOWS_AMI_OWNER, owner_alias="amazon",
                  public=spec.get("public", True), virtualization_type="hvm",
                  architecture="x86_64", platform="windows", creation_date=created,
                  description=f"Microsoft Windows Server EKS optimized image ({spec['name']})",
                  root_device_type="ebs", hypervisor="xen", region_name=region, boot_mode="uefi")
        ec2.amis[image_id] = ami
        ids[spec["key"]] = image_id
        if spec.get("ssm", False):
            name = ssm_public_name(spec["name"])
            ssm._parameters[name].append(Parameter(  # pylint: disable=protected-access
                account_id=ACCOUNT, name=name, value=image_id, parameter_type="String",
                description=None, allowed_pattern=None, keyid=None, last_modified_date=created,
                version=len(ssm._parameters[name]) + 1, data_type="text"))  # pylint: disable=protected-access
    return ids


def deregister_amis(region, amis, ids):
    """Deregister the AMIs the scenario says are (after the instances that run them started)."""
    from moto.ec2.models import ec2_backends  # pylint: disable=import-outside-toplevel

    for spec in amis:
        if spec.get("deregistered"):
            ec2_backends[ACCOUNT][region].deregister_image(ids[spec["key"]])


def default_image(region, os_name, version):
    """An image for a node that names none: an EKS-optimized AMI of the cluster's version."""
    from moto.ec2.models import ec2_backends  # pylint: disable=import-outside-toplevel
    from moto.ec2.models.amis import Ami  # pylint: disable=import-outside-toplevel

    ec2 = ec2_backends[ACCOUNT][region]
    if os_name == "windows":
        name, owner = f"Windows_Server-2019-English-Core-EKS_Optimized-{version}-2024.08.13", WINDOWS_AMI_OWNER
    else:
        name, owner = f"amazon-eks-node-{version}-v20240807", EKS_AMI_OWNER
    image_id = "ami-" + uuid.uuid5(uuid.NAMESPACE_DNS, f"{region}/{name}").hex[:17]
    if image_id not in ec2.amis:
        ec2.amis[image_id] = Ami(ec2, image_id, name=name, owner_id=owner, owner_alias="amazon",
                                 public=True, virtualization_type="hvm", architecture="x86_64",
                                 platform="windows" if os_name == "windows" else None,
                                 root_device_type="ebs", region_name=region)
    return image_id


def _provider_id(node, cluster, region, az):
    """The providerID EKS gives a node that is no EC2 instance of the account."""
    if node.get("compute_type") == "hybrid":
        return f"eks-hybrid:///{region}/{cluster['name']}/{node['name']}"
    # Fargate: aws:///<az>/<an id of the Fargate task>/<node name>
    return f"aws:///{az}/{uuid.uuid5(uuid.NAMESPACE_DNS, node['name']).hex[:30]}/{node['name']}"


def launch_node_instances(ec2, cluster, region, subnets, nodegroups, amis, node_role):
    """A real moto instance behind every node that is one on EKS (not Fargate or Hybrid nodes),
    in as few RunInstances calls as the nodes allow (one per subnet, instance type, instance
    profile, image and node group): {node name: {"instance_id", "az", "provider_id"}}."""
    groups, result = {}, {}
    for node in cluster.get("nodes", []):
        subnet = subnets[node.get("subnet", "default")]
        if node.get("compute_type") in NODE_COMPUTE_WITHOUT_INSTANCE:
            result[node["name"]] = {"instance_id": None, "az": subnet["az"],
                                    "provider_id": _provider_id(node, cluster, region, subnet["az"])}
            continue
        group = nodegroups.get(node.get("nodegroup"))
        if node.get("compute_type") == "auto":
            profile = None  # EKS Auto Mode's instances are EKS's, with its own profile
        elif group and not node.get("node_role"):
            profile = group["profile"]
        else:
            profile = node_role(node.get("node_role"))
        image = amis[node["image"]] if node.get("image") else default_image(
            region, node.get("os", "linux"), cluster["version"])
        key = (subnet["id"], node.get("instance_type", "m5.large"), profile, image,
               node.get("nodegroup") if group else None)
        groups.setdefault(key, []).append(node)
    for (subnet_id, instance_type, profile, image, nodegroup), nodes in groups.items():
        tags = [{"Key": f"kubernetes.io/cluster/{cluster['name']}", "Value": "owned"}]
        if nodegroup:
            tags += [{"Key": "eks:cluster-name", "Value": cluster["name"]},
                     {"Key": "eks:nodegroup-name", "Value": nodegroup}]
        extra = {"IamInstanceProfile": {"Name": profile}} if profile else {}
        reservation = ec2.run_instances(
            ImageId=image, MinCount=len(nodes), MaxCount=len(nodes), InstanceType=instance_type,
            SubnetId=subnet_id, TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
            **extra)
        for node, instance in zip(nodes, reservation["Instances"]):
            az = instance["Placement"]["AvailabilityZone"]
            result[node["name"]] = {"instance_id": instance["InstanceId"], "az": az,
                                    "provider_id": f"aws:///{az}/{instance['InstanceId']}"}
    return result


def create_cluster(endpoint, credentials, cluster, api_endpoint, ca_pem, amis=None):
    """Create one EKS cluster in moto as the scenario says, then make it describe the lab."""
    region = cluster["region"]
    partition = partition_of(region)
    iam = _client("iam", endpoint, region, credentials)
    eks = _client("eks", endpoint, region, credentials)
    ec2 = _client("ec2", endpoint, region, credentials)

    role_name = cluster.get("role_name", f"{cluster['name']}-cluster-role")
    role_arn = None
    if cluster.get("role_exists", True):
        role_arn = iam.create_role(
            RoleName=role_name, AssumeRolePolicyDocument=json.dumps(EKS_TRUST))["Role"]["Arn"]
        iam.attach_role_policy(
            RoleName=role_name, PolicyArn=f"arn:{partition}:iam::aws:policy/AmazonEKSClusterPolicy")
        if cluster.get("vpc_resource_controller_policy", False):
            iam.attach_role_policy(
                RoleName=role_name,
                PolicyArn=f"arn:{partition}:iam::aws:policy/AmazonEKSVPCResourceController")
    else:
        role_arn = f"arn:{partition}:iam::{ACCOUNT}:role/{role_name}"

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    created = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]
    subnet = created["SubnetId"]
    subnets = {"default": {"id": subnet, "az": created["AvailabilityZone"]}}
    for extra_subnet in cluster.get("subnets", []):  # more subnets in the cluster's VPC
        created = ec2.create_subnet(VpcId=vpc, CidrBlock=extra_subnet["cidr"], TagSpecifications=[
            {"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": extra_subnet["name"]}]}])["Subnet"]
        subnets[extra_subnet["name"]] = {"id": created["SubnetId"], "az": created["AvailabilityZone"]}
        if extra_subnet.get("available_ips") is not None:
            from moto.ec2.models import ec2_backends  # pylint: disable=import-outside-toplevel
            backend_subnet = ec2_backends[ACCOUNT][region].get_subnet(created["SubnetId"])
            backend_subnet.lab_available_ips = int(extra_subnet["available_ips"])
    for role in cluster.get("node_roles", []):
        ROLES_PATHS[role["name"]] = role.get("path", "/")
        _ensure_node_role(iam, role["name"], role.get("path", "/"))
    extra = {}
    if cluster.get("hybrid_nodes"):  # Hybrid Nodes: the remote networks of the nodes
        hybrid = cluster["hybrid_nodes"] if isinstance(cluster["hybrid_nodes"], dict) else {}
        extra["remoteNetworkConfig"] = {"remoteNodeNetworks": [
            {"cidrs": list(hybrid.get("node_cidrs", ["10.80.0.0/16"]))}]}
    eks.create_cluster(
        name=cluster["name"], version=str(cluster["version"]), roleArn=role_arn,
        resourcesVpcConfig={"subnetIds": [subnet]},
        kubernetesNetworkConfig={"ipFamily": cluster.get("ip_family", "ipv4")},
        tags=cluster.get("tags", {}), **extra,
    )

    default_role = f"{cluster['name']}-node-role"

    def node_role(name=None):
        """The instance profile of a node role (made as needed); the default is the cluster's."""
        name = _role_name(name or default_role)
        _ensure_node_role(iam, name, ROLES_PATHS.get(name, "/"))
        return name

    node_role_arn = None
    if cluster.get("nodegroups") or cluster.get("fargate_profiles"):
        node_role(default_role)
        node_role_arn = ROLES[default_role]
    nodegroups = {}
    for group in cluster.get("nodegroups", []):
        role = node_role(group.get("node_role"))
        ami_type = group.get("ami_type", "AL2_x86_64")
        version = str(group.get("version", cluster["version"]))
        release = group.get("release_version")
        if release is None and ami_type.startswith("WINDOWS_"):
            release = f"{version}-2024.08.13"  # Windows releases: <k8s version>-<AMI date>
        extra = {"releaseVersion": str(release)} if release else {}
        created = eks.create_nodegroup(
            clusterName=cluster["name"], nodegroupName=group["name"], subnets=[subnet],
            nodeRole=ROLES[role], amiType=ami_type,
            instanceTypes=[group.get("instance_type", "m5.large")], version=version, **extra,
        )["nodegroup"]
        # EKS gives each managed node group's instances a profile of its own, eks-<uuid>
        profile = _ensure_profile(iam, "eks-" + created["nodegroupArn"].rsplit("/", 1)[-1], role)
        nodegroups[group["name"]] = {"profile": profile, "role": role}
    for profile in cluster.get("fargate_profiles", []):
        eks.create_fargate_profile(
            clusterName=cluster["name"], fargateProfileName=profile["name"],
            podExecutionRoleArn=node_role_arn, subnets=[subnet],
            selectors=[{"namespace": profile.get("namespace", "kube-system"),
                        **({"labels": profile["labels"]} if profile.get("labels") else {})}],
        )
    for addon in cluster.get("addons", []):
        extra = {}
        if addon.get("version"):
            extra["addonVersion"] = addon["version"]
        if addon.get("configuration_values") is not None:
            values = addon["configuration_values"]
            extra["configurationValues"] = values if isinstance(values, str) else json.dumps(values)
        eks.create_addon(clusterName=cluster["name"], addonName=addon["name"], **extra)

    # moto describes every cluster with a random endpoint and CA and platform eks.4:
    # make it describe the lab's API server, as EKS would describe its own.
    from moto.eks.models import eks_backends  # pylint: disable=import-outside-toplevel

    backend_cluster = eks_backends[ACCOUNT][region].clusters[cluster["name"]]
    backend_cluster.endpoint = api_endpoint
    backend_cluster.certificate_authority = {"data": base64.b64encode(ca_pem).decode()}
    backend_cluster.platformVersion = cluster.get("platform_version", "eks.1")
    backend_cluster.version = str(cluster["version"])
    from . import eks_access_entries  # pylint: disable=import-outside-toplevel

    mode = cluster.get("authentication_mode", "CONFIG_MAP")
    if mode not in eks_access_entries.MODES:
        raise ValueError(f"authentication_mode {mode!r} is not one of {eks_access_entries.MODES}")
    backend_cluster.access_config = {"authenticationMode": mode,
                                     "bootstrapClusterCreatorAdminPermissions": mode != "CONFIG_MAP"}
    if mode != "CONFIG_MAP":
        # EKS gives the creator an access entry (bootstrapClusterCreatorAdminPermissions)
        eks_access_entries.add_entry(ACCOUNT, region, partition, cluster["name"], credentials["arn"])
    for entry in cluster.get("access_entries", []):
        principal = entry["principal"]
        if not principal.startswith("arn:") and entry.get("type", "STANDARD") != "STANDARD":
            node_role(principal)  # a node role the scenario names only here
        eks_access_entries.add_entry(
            ACCOUNT, region, partition, cluster["name"], _principal_arn(principal, partition),
            entry.get("type", "STANDARD"), entry.get("groups"), entry.get("username"))
    instances = launch_node_instances(ec2, cluster, region, subnets, nodegroups, amis or {}, node_role)
    if cluster.get("auto_mode"):
        # moto's CreateCluster takes no computeConfig, but DescribeCluster returns the
        # attribute (botocore's Cluster.computeConfig: enabled, nodePools, nodeRoleArn)
        backend_cluster.compute_config = {
            "enabled": True, "nodePools": ["general-purpose", "system"],
            "nodeRoleArn": f"arn:{partition}:iam::{ACCOUNT}:role/{cluster['name']}-auto-node-role"}
    return {"arn": backend_cluster.arn, "role_arn": role_arn, "instances": instances,
            "subnets": {name: value["id"] for name, value in subnets.items()},
            "vpc_id": vpc}


# EKS REST paths -> the parts of the resource ARN the action is evaluated on (AWS's Service
# Authorization Reference: cluster, nodegroup, fargateprofile and addon resource types).
EKS_RESOURCES = [(re.compile(pattern), template) for pattern, template in (
    (r"^/clusters/(?P<c>[^/]+)/access-entries/(?P<p>.+)$", "access-entry"),
    (r"^/clusters/(?P<c>[^/]+)/node-groups/(?P<n>[^/]+)", "nodegroup/{c}/{n}/*"),
    (r"^/clusters/(?P<c>[^/]+)/fargate-profiles/(?P<n>[^/]+)", "fargateprofile/{c}/{n}/*"),
    (r"^/clusters/(?P<c>[^/]+)/addons/(?P<n>[^/]+)", "addon/{c}/{n}/*"),
    (r"^/clusters/(?P<c>[^/]+)", "cluster/{c}"),
)]
IAM_ROLE_ACTIONS = ("AttachRolePolicy", "DetachRolePolicy", "ListAttachedRolePolicies", "GetRole")
IAM_PROFILE_ACTIONS = ("GetInstanceProfile",)
# Condition operators the stand-in evaluates (on iam:PolicyARN only); ArnLike/StringLike match
# with wildcards, the others exactly.
CONDITION_OPERATORS = {"ArnEquals": False, "ArnLike": True, "StringEquals": False, "StringLike": True}


def _as_list(value):
    return [value] if isinstance(value, str) else list(value or [])


def request_facts(response):
    """(action, resource ARN, condition context) of one moto request, as IAM evaluates it."""
    service = response.service_name
    action = response._get_action()  # pylint: disable=protected-access
    region, account = response.region, response.current_account
    partition = partition_of(region)
    resource, context = "*", {}
    if service == "eks":
        for pattern, template in EKS_RESOURCES:
            found = pattern.match(unquote(response.path))
            if found and template == "access-entry":
                resource = _access_entry_resource(found["c"], found["p"], partition, region, account)
                break
            if found:
                resource = f"arn:{partition}:eks:{region}:{account}:" + template.format(**found.groupdict())
                break
        if action == "DescribeUpdate" and response.querystring.get("addonName"):
            cluster = response.path.split("/")[2]
            name = response.querystring["addonName"][0]
            resource = f"arn:{partition}:eks:{region}:{account}:addon/{cluster}/{name}/*"
    elif service == "ssm" and action in ("GetParameter", "GetParameters"):
        names = [response._get_param("Name")] if action == "GetParameter" else (  # pylint: disable=protected-access
            response._get_param("Names") or [])  # pylint: disable=protected-access
        resource = [_parameter_arn(name or "", partition, region, account) for name in names]
        resource = resource[0] if len(resource) == 1 else resource
    elif service == "iam" and action in IAM_PROFILE_ACTIONS:
        profile = (response.querystring.get("InstanceProfileName") or [""])[0]
        resource = f"arn:{partition}:iam::{account}:instance-profile/{profile}"
    elif service == "iam" and action in IAM_ROLE_ACTIONS:
        role = (response.querystring.get("RoleName") or [""])[0]
        resource = f"arn:{partition}:iam::{account}:role/{role}"
        if response.querystring.get("PolicyArn"):
            context["iam:PolicyARN"] = response.querystring["PolicyArn"][0]
    return f"{service}:{action}", resource, context


def _access_entry_resource(cluster, principal, partition, region, account):
    """An access entry's ARN (access-entry/<cluster>/<role|user>/<account>/<name>/<uuid>): the
    entry's own when it exists, else with "*" for the uuid EKS has not given."""
    from . import eks_access_entries  # pylint: disable=import-outside-toplevel

    entry = eks_access_entries.find_entry(account, region, cluster, principal)
    if entry:
        return entry["accessEntryArn"]
    if eks_access_entries.PRINCIPAL.match(principal):
        return eks_access_entries.entry_arn(partition, region, account, cluster, principal, "*")
    return f"arn:{partition}:eks:{region}:{account}:access-entry/{cluster}/*"


def _parameter_arn(name, partition, region, account):
    """An SSM parameter's ARN; AWS's public parameters (/aws/...) have no account in theirs."""
    if name.startswith("arn:"):
        return name
    owner = "" if name.startswith("/aws/") else account
    return f"arn:{partition}:ssm:{region}:{owner}:parameter/{name.lstrip('/')}"


def _matches(patterns, value):
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def statement_applies(statement, action, resource, context):
    """Whether one policy statement covers the request. Fails closed: a statement with
    NotAction, NotResource or a condition this stand-in does not evaluate covers nothing."""
    if "NotAction" in statement or "NotResource" in statement:
        return False
    if not _matches(_as_list(statement.get("Action")), action):
        return False
    if not _matches(_as_list(statement.get("Resource")), resource):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        if operator not in CONDITION_OPERATORS:
            return False
        for key, wanted in keys.items():
            value = context.get(key)
            if key.lower() != "iam:policyarn" or value is None:
                return False
            wanted = _as_list(wanted)
            if CONDITION_OPERATORS[operator]:
                if not _matches(wanted, value):
                    return False
            elif value not in wanted:
                return False
    return True


def allowed(policy, action, resource, context):
    """IAM's answer for one identity policy: an explicit Deny wins, then any Allow."""
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    if any(s.get("Effect") == "Deny" and statement_applies(s, action, resource, context)
           for s in statements):
        return False
    return any(s.get("Effect") == "Allow" and statement_applies(s, action, resource, context)
               for s in statements)


def enforce_iam_policies(users):
    """Make moto answer AccessDenied to scenario users whose inline policy does not allow a
    request, as AWS would, for every service moto serves here (IAM, EKS with the lab's add-on
    routes, EC2, STS).

    A stand-in for IAM policy evaluation of one identity policy per user: Action (wildcards),
    Resource (the ARN of the resource the action names: EKS clusters, node groups, Fargate
    profiles, add-ons and access entries from the REST path (ListAccessEntries and
    CreateAccessEntry on the cluster), IAM roles from RoleName, IAM instance profiles from
    InstanceProfileName, SSM parameters from Name/Names (every one of GetParameters' names must
    be allowed; public /aws/ parameters have no account in their ARN); "*" for every other
    action (EC2's Describe* among them, which have no resource-level permissions), which then
    only matches Resource "*" or a wildcard covering it), explicit Deny, and the condition key
    iam:PolicyARN (ArnEquals/ArnLike/StringEquals/StringLike). It does not evaluate NotAction/NotResource or any other condition key (such statements allow
    nothing: fails closed), policy variables, resource or permission-boundary policies, SCPs
    or sessions. sts:GetCallerIdentity is always allowed, as on AWS (no policy can deny it).
    moto's own enforcement (INITIAL_NO_AUTH_ACTION_COUNT) rejects the SigV4 signatures of
    botocore's EKS REST requests, so it cannot be used here. `users` maps an access key id to
    (user ARN, policy document).

    The refusal is AWS's: AccessDenied (query APIs: IAM, EC2, STS; EC2 itself would say
    UnauthorizedOperation) or AccessDeniedException (EKS's REST API), HTTP 403, "User: <arn> is not authorized to perform: <action> on
    resource: <arn>".
    """
    from moto.core.exceptions import AccessDeniedError, JsonRESTError  # pylint: disable=import-outside-toplevel
    from moto.core.responses import BaseResponse  # pylint: disable=import-outside-toplevel

    original = BaseResponse._authenticate_and_authorize_normal_action  # pylint: disable=protected-access

    def authorize(self, resource="*"):
        original(self, resource)
        user = users.get(self.get_access_key())
        if not user:
            return
        action, arns, context = request_facts(self)
        if action.lower() == "sts:getcalleridentity":
            return
        # an action on several resources (ssm:GetParameters) needs every one of them allowed
        denied = [a for a in ([arns] if isinstance(arns, str) else arns) if not allowed(user[1], action, a, context)]
        if not denied:
            return
        arn = denied[0]
        if self.service_name != "eks":
            raise AccessDeniedError(user[0], f"{action} on resource: {arn}")
        error = JsonRESTError("AccessDeniedException", f"User: {user[0]} is not authorized to "
                              f"perform: {action} on resource: {arn}")
        error.code = 403
        raise error

    BaseResponse._authenticate_and_authorize_normal_action = authorize  # pylint: disable=protected-access


def secret_for(access_key_id):
    """The secret of an access key moto issued, or None (for the token check)."""
    from moto.iam.models import iam_backends  # pylint: disable=import-outside-toplevel

    for per_partition in iam_backends.values():
        for backend in per_partition.values():
            for user in backend.users.values():
                for key in user.access_keys:
                    if key.access_key_id == access_key_id and key.status == "Active":
                        return key.secret_access_key
    return None
