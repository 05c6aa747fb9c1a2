"""EKS add-ons for the lab's moto, which has none: CreateAddon, DescribeAddon, ListAddons.

EKS describes an add-on with its name, version, status and the `configurationValues` string
the user gave (JSON or YAML). That is all the assessment reads (the VPC CNI add-on and whether
its configuration sets `enableWindowsIpam`), so that is all the lab keeps. Install before the
first EKS request reaches moto: moto builds its URL map on first use.
"""

import datetime

from moto.core.responses import ActionResult
from moto.eks import urls
from moto.eks.exceptions import ResourceNotFoundException
from moto.eks.responses import EKSResponse

# (account, region, cluster) -> {addon name: addon}
ADDONS = {}


def _cluster_addons(response, cluster):
    if cluster not in response.eks_backend.clusters:
        raise ResourceNotFoundException(
            clusterName=cluster, nodegroupName=None, fargateProfileName=None, addonName=None,
            message=f"No cluster found for name: {cluster}.")
    return ADDONS.setdefault((response.current_account, response.region, cluster), {})


def create_addon(self):
    cluster = self._get_param("name")
    name = self._get_param("addonName")
    now = datetime.datetime.now(datetime.timezone.utc)
    addon = {
        "addonName": name, "clusterName": cluster, "status": "ACTIVE",
        "addonVersion": self._get_param("addonVersion") or "v1.18.0-eksbuild.1",
        "addonArn": f"arn:aws:eks:{self.region}:{self.current_account}:addon/{cluster}/{name}/lab",
        "createdAt": now, "modifiedAt": now, "health": {"issues": []},
        "tags": self._get_param("tags") or {},
    }
    if self._get_param("configurationValues") is not None:
        addon["configurationValues"] = self._get_param("configurationValues")
    _cluster_addons(self, cluster)[name] = addon
    return ActionResult({"addon": addon})


def describe_addon(self):
    cluster = self._get_param("name")
    name = self._get_param("addonName")
    addon = _cluster_addons(self, cluster).get(name)
    if addon is None:
        raise ResourceNotFoundException(
            clusterName=cluster, nodegroupName=None, fargateProfileName=None, addonName=name,
            message=f"No addon: {name} found in cluster: {cluster}")
    return ActionResult({"addon": addon})


def list_addons(self):
    return ActionResult({"addons": sorted(_cluster_addons(self, self._get_param("name")))})


def install():
    EKSResponse.create_addon = create_addon
    EKSResponse.describe_addon = describe_addon
    EKSResponse.list_addons = list_addons
    urls.url_paths["{0}/clusters/(?P<name>[^/]+)/addons$"] = urls.response.dispatch
    urls.url_paths["{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)$"] = urls.response.dispatch
