# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VPC CNI's Windows settings (``enable-windows-ipam`` and friends in ConfigMap
kube-system/amazon-vpc-cni), written to whoever owns that ConfigMap (reference, section 10).

- The EKS managed add-on ``vpc-cni`` owns it when DescribeAddon finds the add-on: the add-on
  writes the ConfigMap from its configuration values and reverts a hand edit on its next update
  (or fails that update with ConfigurationConflict). The setting goes into the add-on's
  ``configurationValues`` (merged, every other key kept), checked first against the schema of
  the add-on's exact version (DescribeAddonConfiguration), applied with UpdateAddon
  (resolveConflicts PRESERVE), waited for (DescribeUpdate) and read back from the ConfigMap.
- A Helm release owns it when the ConfigMap carries Helm's annotations or managed-by label:
  the release's values are the user's; the step refuses, naming the release and the chart
  value, unless told to patch the ConfigMap anyway.
- Nobody: the ConfigMap is created or merge-patched, every other key kept.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.eksops.windows.plugins.module_utils import _procedure as procedure
from ansible_collections.eksops.windows.plugins.module_utils._errors import (
    AwsError,
    EksOpsError,
    InputError,
    StepError,
)

try:
    from ansible.module_utils.common.yaml import HAS_YAML, yaml_dump, yaml_load
except ImportError:  # pragma: no cover - ansible-core always ships it
    HAS_YAML = False

try:
    import botocore
except ImportError:
    pass  # the module reports a missing botocore itself

ADDON_BUSY = ("CREATING", "UPDATING", "DELETING")
UPDATE_DONE = ("Successful", "Failed", "Cancelled")
POLL_DELAYS = (1, 2, 4, 5)  # seconds between DescribeUpdate polls; then 5 s each


def owner_of(configmap, addon):
    """Who owns ConfigMap amazon-vpc-cni: {"kind": "addon", "name", "version", "status"},
    {"kind": "helm", "release", "namespace"} or {"kind": "none"}."""
    if addon:
        return {"kind": "addon", "name": addon.get("addonName", procedure.VPC_CNI_ADDON),
                "version": addon.get("addonVersion"), "status": addon.get("status")}
    metadata = (configmap or {}).get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    labels = metadata.get("labels") or {}
    release = annotations.get(procedure.HELM_RELEASE_ANNOTATION)
    if release or labels.get(procedure.HELM_MANAGED_BY_LABEL) == "Helm":
        return {"kind": "helm", "release": release,
                "namespace": annotations.get(procedure.HELM_NAMESPACE_ANNOTATION)}
    return {"kind": "none"}


def parse_values(text):
    """An add-on's configurationValues (JSON or YAML, possibly empty) -> (dict, "json"|"yaml")."""
    if not (text or "").strip():
        return {}, "json"
    try:
        values, form = json.loads(text), "json"
    except ValueError:
        if not HAS_YAML:
            raise InputError("The configuration values of add-on %s are not JSON, and PyYAML is "
                             "missing to read them as YAML." % procedure.VPC_CNI_ADDON)
        try:
            values, form = yaml_load(text), "yaml"
        except Exception as e:  # PyYAML raises several kinds
            raise InputError("The configuration values of add-on %s are neither JSON nor YAML (%s). "
                             "Fix them (eks:UpdateAddon --configuration-values) and run again."
                             % (procedure.VPC_CNI_ADDON, e))
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise InputError("The configuration values of add-on %s are not a mapping (%s). Fix them "
                         "(eks:UpdateAddon --configuration-values) and run again."
                         % (procedure.VPC_CNI_ADDON, type(values).__name__))
    return values, form


def dump_values(values, form):
    """The configurationValues string, in the form the add-on had (JSON when it had none)."""
    if form == "yaml":
        return yaml_dump(values, default_flow_style=False, sort_keys=False)
    return json.dumps(values, sort_keys=True)


def schema_properties(schema_text):
    """{key: its JSON schema} of the top-level configuration keys of an add-on version's schema."""
    try:
        schema = json.loads(schema_text or "{}")
    except ValueError:
        return {}
    root = schema
    ref = schema.get("$ref", "")
    if ref.startswith("#/definitions/"):
        root = (schema.get("definitions") or {}).get(ref[len("#/definitions/"):]) or {}
    return dict(root.get("properties") or {})


def schema_keys(schema_text):
    """The top-level configuration keys an add-on version's JSON schema accepts."""
    return set(schema_properties(schema_text).keys())


def typed_value(value, prop):
    """A setting (a ConfigMap value string) as the schema's property wants it: an integer where
    it says ``type: integer`` (the Windows IP targets of some versions), else the string (the
    enable* keys are strings of format boolean)."""
    if (prop or {}).get("type") == "integer":
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    return value


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def effective_value(values, addon_key):
    """What the add-on writes to the ConfigMap for `addon_key`: its configuration value, or
    the add-on's default when it has none."""
    if addon_key in values:
        return _text(values[addon_key])
    return procedure.VPC_CNI_ADDON_DEFAULTS.get(addon_key)


def owner_settings(owner, addon):
    """{ConfigMap key: what the owner says} for the Windows keys, when the owner is the add-on
    (None for another owner: Helm's values are not readable from the cluster)."""
    if owner["kind"] != "addon":
        return None
    values, _form = parse_values((addon or {}).get("configurationValues"))
    return dict((key, effective_value(values, addon_key))
                for key, addon_key in procedure.VPC_CNI_ADDON_VALUES.items())


def diff_of(result, before, after, header):
    """The module diff of a write: `before`/`after` (dicts of what the module shows), plus the
    add-on's configuration values before and after when the setting went to the add-on."""
    before, after = dict(before), dict(after)
    if "addon" in result:
        before["addon_configuration_values"] = result["addon"]["configuration_before"]
        after["addon_configuration_values"] = result["addon"]["configuration_after"]
    return {"before": before, "after": after, "before_header": header, "after_header": header}


def _configmap_data(reads):
    current = reads.configmap()
    return current, ((current or {}).get("data") or {})


def converge(reads, check_mode, settings, patch_helm_owned=False, wait_timeout=600):
    """plan() then apply(): write `settings` ({ConfigMap key: value string}) to the owner of
    ConfigMap amazon-vpc-cni. Returns (changed, result)."""
    return apply(reads, check_mode, plan(reads, settings, patch_helm_owned), wait_timeout)


def plan(reads, settings, patch_helm_owned=False):
    """What writing `settings` takes, decided from reads only, and every refusal raised here,
    before any write of the procedure: the add-on unreadable or busy, its version's schema
    without the key, a Helm release that owns the ConfigMap (unless `patch_helm_owned`).

    The plan's ``result`` has ``owner``, ``written_to`` ("addon", "configmap" or None),
    ``configmap`` (existed, before, after: the keys' values; action none/created/patched/
    via_addon) and, for an add-on update, ``addon`` (its configuration before and after)."""
    addon = reads.cni_addon()
    if reads.refused("eks:DescribeAddon"):
        raise EksOpsError(
            "Could not read the EKS add-on %s of cluster '%s' (eks:DescribeAddon was refused). The "
            "Windows IPAM setting must go to whoever owns ConfigMap %s/%s, and the add-on, when "
            "installed, reverts a hand edit of it. Grant eks:DescribeAddon and run again."
            % (procedure.VPC_CNI_ADDON, reads.cluster["name"], procedure.VPC_CNI_CONFIGMAP_NAMESPACE,
               procedure.VPC_CNI_CONFIGMAP))
    current, data = _configmap_data(reads)
    owner = owner_of(current, addon)
    before = dict((k, data.get(k)) for k in settings)
    result = {"owner": owner, "written_to": None,
              "configmap": {"existed": current is not None, "before": before,
                            "after": dict(before), "action": "none"}}
    step = {"result": result, "write": None, "settings": dict(settings), "current": current}
    if owner["kind"] == "addon":
        return _addon_plan(reads, step, addon)
    if all(procedure.same_setting(k, before[k], v) for k, v in settings.items()):
        return step
    chart = ", ".join("%s=%s" % (procedure.VPC_CNI_ADDON_VALUES[k], v) for k, v in sorted(settings.items()))
    if owner["kind"] == "helm" and not patch_helm_owned:
        release = "%s/%s" % (owner.get("namespace") or "?", owner.get("release") or "?")
        raise EksOpsError(
            "ConfigMap %s/%s of cluster '%s' belongs to Helm release %s: a patch would be reverted "
            "by its next helm upgrade. Set the chart value%s %s in that release (helm upgrade ... "
            "--reuse-values --set %s), or set patch_helm_owned=true to patch the ConfigMap anyway."
            % (procedure.VPC_CNI_CONFIGMAP_NAMESPACE, procedure.VPC_CNI_CONFIGMAP, reads.cluster["name"],
               release, "s" if len(settings) > 1 else "", chart, chart.replace(", ", ",")),
            owner=owner)
    if current is None and all(v == procedure.VPC_CNI_CONFIGMAP_DEFAULTS.get(k) for k, v in settings.items()):
        return step  # no ConfigMap: these are the defaults already
    step["write"] = "configmap"
    result["written_to"] = "configmap"
    result["configmap"]["after"] = dict(settings)
    result["configmap"]["action"] = "created" if current is None else "patched"
    if owner["kind"] == "helm":
        result["warning"] = (
            "ConfigMap %s belongs to Helm release %s/%s: its next helm upgrade reverts this unless "
            "the release's values set %s." % (procedure.VPC_CNI_CONFIGMAP, owner.get("namespace"),
                                              owner.get("release"), chart))
    return step


def _addon_plan(reads, step, addon):
    result, settings = step["result"], step["settings"]
    cluster = reads.cluster["name"]
    name, version = addon.get("addonName", procedure.VPC_CNI_ADDON), addon.get("addonVersion")
    values, form = parse_values(addon.get("configurationValues"))
    wanted = dict((procedure.VPC_CNI_ADDON_VALUES[k], v) for k, v in settings.items())
    addon_changes = dict((k, v) for k, v in wanted.items()
                         if not procedure.same_setting(k, effective_value(values, k), v))
    before = result["configmap"]["before"]
    if not addon_changes:
        if all(procedure.same_setting(k, before[k], v) for k, v in settings.items()):
            return step
        # The add-on already says so and the ConfigMap was edited by hand: put the ConfigMap back
        # to what its owner says (the add-on would write the same, so no conflict follows).
        step["write"] = "configmap"
        result["written_to"] = "configmap"
        result["configmap"]["after"] = dict(settings)
        result["configmap"]["action"] = "patched"
        return step
    if addon.get("status") in ADDON_BUSY:
        raise EksOpsError("The EKS add-on %s of cluster '%s' is %s: run again when it is ACTIVE."
                          % (name, cluster, addon["status"]))
    try:
        schema = reads.clients.aws("eks").describe_addon_configuration(
            addonName=name, addonVersion=version, aws_retry=True).get("configurationSchema")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        raise AwsError("Could not read the configuration schema of add-on %s %s "
                       "(eks:DescribeAddonConfiguration)" % (name, version), e)
    properties = schema_properties(schema)
    refused = sorted(set(addon_changes) - set(properties))
    if refused:
        raise InputError(
            "The EKS add-on %s %s of cluster '%s' does not accept %s in its configuration values "
            "(its schema, eks:DescribeAddonConfiguration). Update the add-on to a version whose "
            "schema has %s (aws eks describe-addon-versions --addon-name %s; aws eks "
            "describe-addon-configuration --addon-name %s --addon-version VERSION), then run again. "
            "Nothing was changed: the ConfigMap is not patched behind the add-on, which would "
            "revert it." % (name, version, cluster, ", ".join(refused),
                            "them" if len(refused) > 1 else "it", name, name),
            owner=result["owner"])
    merged = dict(values)
    merged.update((k, typed_value(v, properties.get(k))) for k, v in addon_changes.items())
    step["write"] = "addon"
    result["written_to"] = "addon"
    result["configmap"]["after"] = dict(settings)
    result["configmap"]["action"] = "via_addon"
    result["addon"] = {"name": name, "version": version,
                       "configuration_before": addon.get("configurationValues") or "",
                       "configuration_after": dump_values(merged, form),
                       "resolve_conflicts": procedure.ADDON_RESOLVE_CONFLICTS,
                       "update_id": None, "status": None, "waited_seconds": 0}
    return step


def apply(reads, check_mode, step, wait_timeout=600):
    """Carry out a plan(); returns (changed, result). Writes nothing in check mode."""
    result = step["result"]
    if step["write"] is None:
        return False, result
    if result.get("warning"):
        reads.clients.warn(result["warning"])
    if check_mode:
        return True, result
    if step["write"] == "configmap":
        changes = dict((k, v) for k, v in step["settings"].items()
                       if result["configmap"]["before"][k] != v)
        _write_configmap(reads, step["current"], changes)
        return True, result
    return True, _update_addon(reads, result, wait_timeout)


def _write_configmap(reads, current, settings):
    kube = reads.clients.kube
    name, namespace = procedure.VPC_CNI_CONFIGMAP, procedure.VPC_CNI_CONFIGMAP_NAMESPACE
    if current is None:
        kube.create({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": name, "namespace": namespace}, "data": dict(settings)})
    else:
        kube.merge_patch("ConfigMap", name, namespace, {"data": dict(settings)})
    reads.forget_configmap()


def _update_addon(reads, result, wait_timeout):
    cluster = reads.cluster["name"]
    addon = result["addon"]
    name = addon["name"]
    eks = reads.clients.aws("eks")
    try:
        update = eks.update_addon(clusterName=cluster, addonName=name,
                                  configurationValues=addon["configuration_after"],
                                  resolveConflicts=addon["resolve_conflicts"], aws_retry=True)["update"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        raise AwsError("Could not update the configuration values of add-on %s (eks:UpdateAddon)" % name, e)
    addon["update_id"] = update.get("id")
    status, errors, waited = _wait(eks, cluster, name, update, wait_timeout)
    addon.update(status=status, waited_seconds=waited)
    if status != "Successful":
        raise StepError(
            "The update %s of add-on %s on cluster '%s' %s%s. The add-on's configuration values may "
            "not be applied; see aws eks describe-update --name %s --update-id %s --addon-name %s."
            % (update.get("id"), name, cluster,
               "is still %s after %d s" % (status, waited) if status not in UPDATE_DONE else "ended %s" % status,
               ": " + "; ".join("%s %s" % (e.get("errorCode"), e.get("errorMessage")) for e in errors) if errors else "",
               cluster, update.get("id"), name),
            changed=True, **result)
    reads.forget_configmap()
    _current, data = _configmap_data(reads)
    settings = result["configmap"]["after"]
    after = dict((k, data.get(k)) for k in settings)
    result["configmap"]["after"] = after
    if after != settings:
        raise StepError(
            "The add-on %s accepted its configuration values, but ConfigMap %s/%s says %s after the "
            "update, where %s was asked." % (
                name, procedure.VPC_CNI_CONFIGMAP_NAMESPACE, procedure.VPC_CNI_CONFIGMAP,
                json.dumps(after, sort_keys=True), json.dumps(settings, sort_keys=True)),
            changed=True, **result)
    return result


def _wait(eks, cluster, name, update, timeout):
    """Poll DescribeUpdate until the add-on update is done or `timeout` seconds have passed:
    (status, errors, seconds waited)."""
    clock, sleep = time.monotonic, time.sleep
    started = clock()
    status, errors = update.get("status"), update.get("errors") or []
    polls = 0
    while status not in UPDATE_DONE:
        waited = clock() - started
        if waited >= timeout:
            break
        sleep(min(POLL_DELAYS[min(polls, len(POLL_DELAYS) - 1)], max(0.0, timeout - waited)))
        polls += 1
        try:
            found = eks.describe_update(name=cluster, updateId=update["id"], addonName=name,
                                        aws_retry=True)["update"]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            raise AwsError("Could not follow the update %s of add-on %s (eks:DescribeUpdate)"
                           % (update["id"], name), e)
        status, errors = found.get("status"), found.get("errors") or []
    return status, errors, int(round(clock() - started))
