"""EKS add-ons for the lab's moto, which has none: CreateAddon, DescribeAddon, ListAddons,
DescribeAddonConfiguration, UpdateAddon and DescribeUpdate (for add-on updates).

EKS describes an add-on with its name, version, status and the `configurationValues` string
the user gave (JSON or YAML). The VPC CNI add-on writes ConfigMap kube-system/amazon-vpc-cni
from those values, so the lab's UpdateAddon does too, through the cluster's API server:

- the Windows keys (procedure.VPC_CNI_ADDON_VALUES) get the values' setting, or the add-on's
  default (`enable-windows-ipam` and `enable-windows-prefix-delegation`: "false");
- a key whose ConfigMap value differs from what the add-on wrote last (a hand edit) is a
  conflict: resolveConflicts NONE (the default) fails the update with ConfigurationConflict,
  OVERWRITE writes the add-on's value (the hand edit is reverted), PRESERVE keeps the hand edit
  unless the configuration values set that key;
- configuration values with a key the version's schema lacks are refused (400), as EKS does.

SCHEMAS is the lab's own table of which add-on versions accept which Windows keys (the real
versions differ; eks:DescribeAddonConfiguration is the source on EKS). Install before the first
EKS request reaches moto: moto builds its URL map on first use.
"""

import datetime
import json
import uuid

import yaml
from moto.core.responses import ActionResult
from moto.eks import urls
from moto.eks.exceptions import InvalidParameterException, ResourceNotFoundException
from moto.eks.responses import EKSResponse

# (account, region, cluster) -> {addon name: addon}
ADDONS = {}
# (account, region, cluster, update id) -> update
UPDATES = {}
# cluster name -> an admin client of its API server (set by install())
KUBE = {"client": None}
CONFIGMAP = "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni"
WINDOWS_VALUES = {  # ConfigMap key -> configuration value (and the add-on's default)
    "enable-windows-ipam": ("enableWindowsIpam", "false"),
    "enable-windows-prefix-delegation": ("enableWindowsPrefixDelegation", "false"),
    "windows-warm-ip-target": ("warmWindowsIPTarget", None),
    "windows-minimum-ip-target": ("minimumWindowsIPTarget", None),
    "windows-warm-prefix-target": ("warmWindowsPrefixTarget", None),
}
COMMON_KEYS = ("env", "init", "nodeAgent", "enableNetworkPolicy", "resources", "tolerations")
PREFIX_KEYS = ("enableWindowsPrefixDelegation", "warmWindowsIPTarget", "minimumWindowsIPTarget",
               "warmWindowsPrefixTarget")
# add-on version -> the Windows keys its schema has; any other version has them all
SCHEMAS = {
    "v1.10.1-eksbuild.1": (),
    "v1.12.6-eksbuild.2": ("enableWindowsIpam",),
}


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


def _the_addon(response):
    """(cluster, add-on name, add-on) of the request's path; ResourceNotFound when missing."""
    cluster = response._get_param("name")
    name = response._get_param("addonName")
    addon = _cluster_addons(response, cluster).get(name)
    if addon is None:
        raise ResourceNotFoundException(
            clusterName=cluster, nodegroupName=None, fargateProfileName=None, addonName=name,
            message=f"No addon: {name} found in cluster: {cluster}")
    return cluster, name, addon


def describe_addon(self):
    _cluster, _name, addon = _the_addon(self)
    return ActionResult({"addon": addon})


def _schema_keys(version):
    windows = SCHEMAS.get(version, ("enableWindowsIpam",) + PREFIX_KEYS)
    return list(COMMON_KEYS) + list(windows)


def _schema(version):
    properties = {}
    for key in _schema_keys(version):
        properties[key] = {"type": "object"} if key in ("env", "init", "nodeAgent", "resources") else (
            {"type": "array"} if key == "tolerations" else {"format": "boolean", "type": "string"}
            if key.startswith("enable") else {"type": "integer"})
    return json.dumps({"$ref": "#/definitions/VpcCni", "$schema": "http://json-schema.org/draft-06/schema#",
                       "definitions": {"VpcCni": {"additionalProperties": False, "type": "object",
                                                  "properties": properties}}})


def describe_addon_configuration(self):
    name, version = self._get_param("addonName"), self._get_param("addonVersion")
    return ActionResult({"addonName": name, "addonVersion": version,
                         "configurationSchema": _schema(version), "podIdentityConfiguration": []})


def _values(text):
    if not (text or "").strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return yaml.safe_load(text) or {}


def _windows_data(values):
    """What the add-on writes to the ConfigMap's Windows keys for these configuration values."""
    data = {}
    for key, (value_key, default) in WINDOWS_VALUES.items():
        value = values.get(value_key, default)
        if value is not None:
            data[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return data


def update_addon(self):
    cluster, name, addon = _the_addon(self)
    version = self._get_param("addonVersion") or addon["addonVersion"]
    text = self._get_param("configurationValues")
    values = _values(text if text is not None else addon.get("configurationValues"))
    unknown = sorted(set(values) - set(_schema_keys(version)))
    if unknown:
        raise InvalidParameterException(
            clusterName=cluster, nodegroupName=None, fargateProfileName=None, addonName=name,
            message="ConfigurationValue provided in request is not supported: Json schema validation "
                    "failed with error: [%s]" % ", ".join(
                        "$.%s: is not defined in the schema and the schema does not allow additional "
                        "properties" % k for k in unknown))
    now = datetime.datetime.now(datetime.timezone.utc)
    update = {"id": str(uuid.uuid4()), "status": "InProgress", "type": "AddonUpdate",
              "params": [{"type": "ResolveConflicts", "value": self._get_param("resolveConflicts") or "NONE"}],
              "createdAt": now, "errors": []}
    status, errors = _apply(cluster, addon, values, self._get_param("resolveConflicts") or "NONE")
    if status == "Successful":
        addon["addonVersion"] = version
        if text is not None:
            addon["configurationValues"] = text
        addon["modifiedAt"] = now
    UPDATES[(self.current_account, self.region, cluster, update["id"])] = dict(
        update, status=status, errors=errors)
    return ActionResult({"update": update})


def _apply(cluster, addon, values, resolve):
    """Rewrite the cluster's ConfigMap as the add-on does; (status, errors)."""
    from . import kube  # pylint: disable=import-outside-toplevel
    api = KUBE["client"](cluster)
    try:
        current = kube.request(api, "GET", CONFIGMAP).get("data") or {}
        exists = True
    except Exception:  # pylint: disable=broad-except
        current, exists = {}, False
    last = _windows_data(_values(addon.get("configurationValues")))
    wanted = _windows_data(values)
    explicit = set(k for k, (value_key, _d) in WINDOWS_VALUES.items() if value_key in values)
    write, conflicts = {}, []
    for key, value in wanted.items():
        now = current.get(key)
        if now == value:
            continue
        edited = exists and now is not None and now != last.get(key)
        if edited and resolve == "NONE":
            conflicts.append(key)
        elif edited and resolve == "PRESERVE" and key not in explicit:
            continue
        else:
            write[key] = value
    if conflicts:
        return "Failed", [{"errorCode": "ConfigurationConflict", "errorMessage": (
            "Conflicts found when trying to apply. Will not continue due to resolve conflicts mode. "
            "Conflicts:\nConfigMap amazon-vpc-cni - " + ", ".join(".data.%s" % k for k in conflicts)),
            "resourceIds": [addon["addonName"]]}]
    if write:
        if exists:
            kube.request(api, "PATCH", CONFIGMAP, {"data": write}, content_type="application/merge-patch+json")
        else:
            kube.request(api, "POST", CONFIGMAP.rsplit("/", 1)[0], {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "amazon-vpc-cni", "namespace": "kube-system"}, "data": write})
    return "Successful", []


def describe_update(self):
    cluster, update_id = self._get_param("name"), self._get_param("updateId")
    update = UPDATES.get((self.current_account, self.region, cluster, update_id))
    if update is None:
        raise ResourceNotFoundException(
            clusterName=cluster, nodegroupName=None, fargateProfileName=None,
            addonName=self._get_param("addonName"), message=f"No update found for ID: {update_id}")
    return ActionResult({"update": update})


def list_addons(self):
    return ActionResult({"addons": sorted(_cluster_addons(self, self._get_param("name")))})


def install(kube_client=None):
    """Patch moto's EKS; `kube_client(cluster name)` is an admin client of that cluster's API
    server, which UpdateAddon writes the ConfigMap through."""
    KUBE["client"] = kube_client
    EKSResponse.describe_addon_configuration = describe_addon_configuration
    EKSResponse.update_addon = update_addon
    EKSResponse.describe_update = describe_update
    urls.url_paths["{0}/addons/configuration-schemas$"] = urls.response.dispatch
    urls.url_paths["{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)/update$"] = urls.response.dispatch
    urls.url_paths["{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$"] = urls.response.dispatch
    EKSResponse.create_addon = create_addon
    EKSResponse.describe_addon = describe_addon
    EKSResponse.list_addons = list_addons
    urls.url_paths["{0}/clusters/(?P<name>[^/]+)/addons$"] = urls.response.dispatch
    urls.url_paths["{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)$"] = urls.response.dispatch
