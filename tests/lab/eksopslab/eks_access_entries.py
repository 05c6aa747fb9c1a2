"""EKS access entries for the lab's moto, which has none: CreateAccessEntry, ListAccessEntries,
DescribeAccessEntry and DeleteAccessEntry, answered with botocore's EKS shapes (AccessEntry:
clusterName, principalArn, kubernetesGroups, accessEntryArn, createdAt, modifiedAt, tags,
username, type), and the cluster's authentication mode (DescribeCluster's
accessConfig.authenticationMode, set by the lab from the scenario: aws.create_cluster).

What EKS does and the lab does too:
- in authentication mode CONFIG_MAP every access-entry call fails with InvalidRequestException
  "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform
  this operation." (the exception and text as the lab's authors remember EKS's answer; not
  checked against a live cluster);
- a principal that already has an entry: ResourceInUseException (409);
- types EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX, HYBRID_LINUX and EC2 take no kubernetesGroups
  (EKS puts such nodes in system:nodes itself): InvalidParameterException; their principal must
  be an IAM role that exists in the cluster's account (InvalidParameterException otherwise);
- the default username: system:node:{{EC2PrivateDNSName}} (EC2_*, EC2), system:node:
  {{SessionName}} (FARGATE_LINUX, HYBRID_LINUX), and for STANDARD the principal's ARN (a role's
  as its assumed-role ARN with {{SessionName}});
- the access-entry ARN: arn:<partition>:eks:<region>:<account>:access-entry/<cluster>/<role|user>/
  <account>/<name>/<uuid>;
- ListAccessEntries pages with maxResults (1..100, default 100) and nextToken.

Not modelled: UpdateAccessEntry, access policies (Associate/ListAssociatedAccessPolicies; the
associatedPolicyArn filter is ignored), EKS creating entries for managed node groups or Fargate
profiles by itself (scenarios declare the entries they want), and the token webhook still maps
identities through aws-auth only (authn.py), whatever the mode.

Install before the first EKS request reaches moto: moto builds its URL map on first use.
"""

import base64
import datetime
import re
import uuid

from moto.core.responses import ActionResult, EmptyResult
from moto.eks import urls
from moto.eks.exceptions import InvalidParameterException, InvalidRequestException, ResourceInUseException, ResourceNotFoundException
from moto.eks.responses import EKSResponse

# (account, region, cluster) -> {principal ARN: entry}, in creation order
ENTRIES = {}
NODE_TYPES = ("EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYBRID_LINUX", "EC2")
TYPES = ("STANDARD",) + NODE_TYPES
MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
PRINCIPAL = re.compile(r"^arn:(?P<partition>[^:]+):iam::(?P<account>\d{12}):(?P<kind>role|user)/(?P<path>.*/)?(?P<name>[^/]+)$")
MODE_MESSAGE = ("The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] "
                "to perform this operation.")


def _error(cls, cluster, message):
    return cls(clusterName=cluster, nodegroupName=None, fargateProfileName=None, addonName=None,
               message=message)


def _cluster(response):
    """(cluster name, backend cluster); ResourceNotFound, or InvalidRequest in CONFIG_MAP mode."""
    name = response._get_param("name")  # pylint: disable=protected-access
    cluster = response.eks_backend.clusters.get(name)
    if cluster is None:
        raise _error(ResourceNotFoundException, name, f"No cluster found for name: {name}.")
    mode = (getattr(cluster, "access_config", None) or {}).get("authenticationMode", "CONFIG_MAP")
    if mode == "CONFIG_MAP":
        raise _error(InvalidRequestException, name, MODE_MESSAGE)
    return name, cluster


def _entries(response, cluster):
    return ENTRIES.setdefault((response.current_account, response.region, cluster), {})


def _iam_principal_exists(account, kind, name):
    from moto.iam.models import iam_backends  # pylint: disable=import-outside-toplevel

    for backend in iam_backends[account].values():
        found = backend.roles.values() if kind == "role" else backend.users.values()
        if any(p.name == name for p in found):
            return True
    return False


def entry_arn(partition, region, account, cluster, principal_arn, entry_uuid):
    found = PRINCIPAL.match(principal_arn)
    kind, principal_account, name = found["kind"], found["account"], found["name"]
    return (f"arn:{partition}:eks:{region}:{account}:access-entry/{cluster}/{kind}/"
            f"{principal_account}/{name}/{entry_uuid}")


def default_username(entry_type, principal_arn):
    if entry_type in ("EC2_LINUX", "EC2_WINDOWS", "EC2"):
        return "system:node:{{EC2PrivateDNSName}}"
    if entry_type in ("FARGATE_LINUX", "HYBRID_LINUX"):
        return "system:node:{{SessionName}}"
    found = PRINCIPAL.match(principal_arn)
    if found["kind"] == "role":
        return (f"arn:{found['partition']}:sts::{found['account']}:assumed-role/{found['name']}"
                "/{{SessionName}}")
    return principal_arn


def add_entry(account, region, partition, cluster, principal_arn, entry_type="STANDARD",
              groups=None, username=None, tags=None):
    """Validate and store one entry as CreateAccessEntry does; the entry. Also used by the lab
    to create a scenario's entries (aws.create_cluster)."""
    entry_type = entry_type or "STANDARD"
    if entry_type not in TYPES:
        raise _error(InvalidParameterException, cluster,
                     f"The type {entry_type} is invalid. Valid types are: {', '.join(TYPES)}.")
    found = PRINCIPAL.match(principal_arn or "")
    if not found:
        raise _error(InvalidParameterException, cluster,
                     f"The specified principalArn is invalid: {principal_arn}")
    if entry_type in NODE_TYPES:
        if groups:
            raise _error(InvalidParameterException, cluster,
                         f"The kubernetesGroups parameter is not allowed for access entries of "
                         f"type {entry_type}.")
        if found["kind"] != "role" or found["account"] != account or not _iam_principal_exists(
                account, "role", found["name"]):
            raise _error(InvalidParameterException, cluster,
                         f"The specified principalArn is invalid: {principal_arn}. Access entries of "
                         f"type {entry_type} must name an existing IAM role in account {account}.")
    entries = ENTRIES.setdefault((account, region, cluster), {})
    if principal_arn in entries:
        raise ResourceInUseException(
            clusterName=cluster, nodegroupName=None, fargateProfileName=None, addonName=None,
            message="The specified access entry resource is already in use on this cluster.")
    now = datetime.datetime.now(datetime.timezone.utc)
    entry = {
        "clusterName": cluster, "principalArn": principal_arn,
        "kubernetesGroups": list(groups or []),
        "accessEntryArn": entry_arn(partition, region, account, cluster, principal_arn, uuid.uuid4()),
        "createdAt": now, "modifiedAt": now, "tags": dict(tags or {}),
        "username": username or default_username(entry_type, principal_arn), "type": entry_type,
    }
    entries[principal_arn] = entry
    return entry


def find_entry(account, region, cluster, principal_arn):
    return ENTRIES.get((account, region, cluster), {}).get(principal_arn)


def create_access_entry(self):
    name, _cluster_obj = _cluster(self)
    entry = add_entry(self.current_account, self.region, self.partition, name,
                      self._get_param("principalArn"), self._get_param("type"),
                      self._get_param("kubernetesGroups"), self._get_param("username"),
                      self._get_param("tags"))
    return ActionResult({"accessEntry": entry})


def _the_entry(response):
    name, _cluster_obj = _cluster(response)
    principal = response._get_param("principalArn")  # pylint: disable=protected-access
    entry = _entries(response, name).get(principal)
    if entry is None:
        raise _error(ResourceNotFoundException, name,
                     "The specified principalArn could not be found. You can view your available "
                     "access entries with 'list-access-entries'.")
    return name, principal, entry


def describe_access_entry(self):
    _name, _principal, entry = _the_entry(self)
    return ActionResult({"accessEntry": entry})


def delete_access_entry(self):
    name, principal, _entry = _the_entry(self)
    del _entries(self, name)[principal]
    return EmptyResult()


def _token(index):
    return base64.urlsafe_b64encode(f"lab-access-entries:{index}".encode()).decode()


def list_access_entries(self):
    name, _cluster_obj = _cluster(self)
    arns = list(_entries(self, name))
    size = int(self._get_param("maxResults") or 100)
    if not 1 <= size <= 100:
        raise _error(InvalidParameterException, name, "maxResults must be between 1 and 100.")
    start = 0
    if self._get_param("nextToken"):
        try:
            start = int(base64.urlsafe_b64decode(self._get_param("nextToken")).decode().split(":")[1])
        except (ValueError, IndexError):
            raise _error(InvalidParameterException, name, "The nextToken is invalid.") from None
    page = {"accessEntries": arns[start:start + size]}
    if start + size < len(arns):
        page["nextToken"] = _token(start + size)
    return ActionResult(page)


def install():
    EKSResponse.create_access_entry = create_access_entry
    EKSResponse.list_access_entries = list_access_entries
    EKSResponse.describe_access_entry = describe_access_entry
    EKSResponse.delete_access_entry = delete_access_entry
    urls.url_paths["{0}/clusters/(?P<name>[^/]+)/access-entries$"] = urls.response.dispatch
    # the principal ARN is one URL-encoded path segment; decoded, it holds "/"
    urls.url_paths["{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<principalArn>.+)$"] = \
        urls.response.dispatch
