"""The lab's AWS: moto in this process, with EKS clusters that point at the lab's API servers."""

import base64
import fnmatch
import json
import re

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


def create_cluster(endpoint, credentials, cluster, api_endpoint, ca_pem):
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
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
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

    node_role_arn = None
    if cluster.get("nodegroups") or cluster.get("fargate_profiles"):
        node_role_arn = iam.create_role(
            RoleName=f"{cluster['name']}-node-role",
            AssumeRolePolicyDocument=json.dumps(NODE_TRUST))["Role"]["Arn"]
    for group in cluster.get("nodegroups", []):
        eks.create_nodegroup(
            clusterName=cluster["name"], nodegroupName=group["name"], subnets=[subnet],
            nodeRole=node_role_arn, amiType=group.get("ami_type", "AL2_x86_64"),
            instanceTypes=[group.get("instance_type", "m5.large")],
        )
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
    if cluster.get("auto_mode"):
        # moto's CreateCluster takes no computeConfig, but DescribeCluster returns the
        # attribute (botocore's Cluster.computeConfig: enabled, nodePools, nodeRoleArn)
        backend_cluster.compute_config = {
            "enabled": True, "nodePools": ["general-purpose", "system"],
            "nodeRoleArn": f"arn:{partition}:iam::{ACCOUNT}:role/{cluster['name']}-auto-node-role"}
    return {"arn": backend_cluster.arn, "role_arn": role_arn}


# EKS REST paths -> the parts of the resource ARN the action is evaluated on (AWS's Service
# Authorization Reference: cluster, nodegroup, fargateprofile and addon resource types).
EKS_RESOURCES = [(re.compile(pattern), template) for pattern, template in (
    (r"^/clusters/(?P<c>[^/]+)/node-groups/(?P<n>[^/]+)", "nodegroup/{c}/{n}/*"),
    (r"^/clusters/(?P<c>[^/]+)/fargate-profiles/(?P<n>[^/]+)", "fargateprofile/{c}/{n}/*"),
    (r"^/clusters/(?P<c>[^/]+)/addons/(?P<n>[^/]+)", "addon/{c}/{n}/*"),
    (r"^/clusters/(?P<c>[^/]+)", "cluster/{c}"),
)]
IAM_ROLE_ACTIONS = ("AttachRolePolicy", "DetachRolePolicy", "ListAttachedRolePolicies", "GetRole")
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
            found = pattern.match(response.path)
            if found:
                resource = f"arn:{partition}:eks:{region}:{account}:" + template.format(**found.groupdict())
                break
        if action == "DescribeUpdate" and response.querystring.get("addonName"):
            cluster = response.path.split("/")[2]
            name = response.querystring["addonName"][0]
            resource = f"arn:{partition}:eks:{region}:{account}:addon/{cluster}/{name}/*"
    elif service == "iam" and action in IAM_ROLE_ACTIONS:
        role = (response.querystring.get("RoleName") or [""])[0]
        resource = f"arn:{partition}:iam::{account}:role/{role}"
        if response.querystring.get("PolicyArn"):
            context["iam:PolicyARN"] = response.querystring["PolicyArn"][0]
    return f"{service}:{action}", resource, context


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
    profiles and add-ons from the REST path, IAM roles from RoleName; "*" for every other
    action, which then only matches Resource "*" or a wildcard covering it), explicit Deny,
    and the condition key iam:PolicyARN (ArnEquals/ArnLike/StringEquals/StringLike). It does
    not evaluate NotAction/NotResource or any other condition key (such statements allow
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
        action, arn, context = request_facts(self)
        if action.lower() == "sts:getcalleridentity" or allowed(user[1], action, arn, context):
            return
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
