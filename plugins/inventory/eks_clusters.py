# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: eks_clusters
short_description: EKS clusters as inventory hosts, across regions and AWS profiles
version_added: 0.1.0
description:
  - Lists the Amazon EKS clusters (C(eks:ListClusters), then C(eks:DescribeCluster) for each) in
    the O(regions) given, with the AWS credentials given, or with each of the AWS O(profiles)
    given, and makes one host per cluster in the group C(eks_clusters).
  - Every host has C(ansible_connection=local) and C(ansible_python_interpreter) set to the
    Python that runs Ansible, so playbooks run on the controller and talk to the cluster's API;
    the collection's roles read the host variables C(eks_cluster_name) and C(aws_region).
  - "Host variables: C(eks_cluster_name), C(aws_region), C(aws_account_id), C(eks_arn),
    C(eks_version) (Kubernetes), C(eks_platform_version), C(eks_endpoint), C(eks_role_arn),
    C(eks_status), C(eks_tags), C(eks_ip_family) (C(ipv4) when DescribeCluster gives none),
    C(eks_authentication_mode) (C(CONFIG_MAP), C(API_AND_CONFIG_MAP) or C(API); C(CONFIG_MAP) when
    DescribeCluster gives none, as for clusters made before access entries), C(eks_control_plane_support) (whether the version table
    of control-plane Windows support admits the Kubernetes and platform versions, null when they
    cannot be read), and C(aws_profile) when a profile listed the cluster. The cluster CA and the credentials are never host variables, and never cached."
  - "The inventory file is YAML, its name ends with C(eks_clusters.yml) or C(eks_clusters.yaml),
    and it says C(plugin: eksops.windows.eks_clusters)."
author:
  - eksops.windows maintainers (!UNKNOWN)
extends_documentation_fragment:
  - inventory_cache
  - constructed
  - amazon.aws.boto3
  - amazon.aws.common.plugins
  - amazon.aws.region.plugins
  - amazon.aws.assume_role.plugins
options:
  plugin:
    description: The name of this plugin; it must be C(eksops.windows.eks_clusters).
    type: str
    required: true
    choices: [eksops.windows.eks_clusters]
  regions:
    description:
      - The regions in which to list EKS clusters, for example V(us-west-2) or V(cn-north-1).
      - Each must be a region where botocore knows EKS; a misspelt one is refused before any
        call is made.
      - When empty, the plugin lists the regions that C(ec2:DescribeRegions) returns for the
        credentials (the regions enabled for the account), as P(amazon.aws.aws_ec2#inventory) does.
    type: list
    elements: str
    default: []
  profiles:
    description:
      - AWS profiles (from C(~/.aws/config) and C(~/.aws/credentials), or E(AWS_CONFIG_FILE) and
        E(AWS_SHARED_CREDENTIALS_FILE)) to list clusters with, one after the other, in every
        region of O(regions). Use it to gather clusters of several accounts; a profile may assume
        a role with C(role_arn) and C(source_profile).
      - Each profile uses its own credentials; O(profile), O(access_key), O(secret_key),
        O(session_token) and their environment variables are then not used, and O(assume_role_arn)
        cannot be given.
      - A cluster that several profiles can see is listed once, with the first such profile as
        its C(aws_profile).
      - A profile (here or in O(profile)) that is not in the AWS config or credentials files fails
        the inventory before any call, naming the profiles that are.
    type: list
    elements: str
    default: []
  hostname_scheme:
    description:
      - How hosts are named.
      - V(auto) names a host after its cluster; clusters that share a name (in other regions or
        accounts) are all called C(<region>/<name>) instead, or C(<account>/<region>/<name>) when
        they also share the region. A host's name can thus change when a cluster of the same name
        appears elsewhere.
      - V(name), V(region/name) and V(account/region/name) name every host the same way, so names
        stay stable; when two clusters would get the same host name the plugin fails and says which.
    type: str
    choices: [auto, name, region/name, account/region/name]
    default: auto
  filters:
    description:
      - Keep the clusters that match every filter of this mapping.
      - "Filter names: C(name), C(region), C(account-id), C(profile), C(status), C(version),
        C(platform-version), C(ip-family), C(tag:<key>) (the value of tag <key>) and C(tag-key)
        (any tag key)."
      - A value is a shell-style pattern (V(prod-*), V(1.2?)) or a list of them (any may match);
        matching is case-sensitive. A cluster without the tag does not match C(tag:<key>).
      - An unknown filter name fails the inventory with the list of known ones.
      - Filters are applied on the controller to the listed clusters (EKS has no server-side
        filter), so changing them needs no cache refresh.
    type: dict
    default: {}
  include_filters:
    description:
      - A list of filter mappings as in O(filters). Clusters that match O(filters) or any of these
        are kept; when both are empty every cluster is kept.
    type: list
    elements: dict
    default: []
  exclude_filters:
    description:
      - A list of filter mappings as in O(filters). Clusters that match any of these are left
        out, whatever O(filters) and O(include_filters) say.
    type: list
    elements: dict
    default: []
  statuses:
    description:
      - Keep the clusters in these states (C(ACTIVE), C(UPDATING), C(CREATING), C(DELETING),
        C(FAILED), C(PENDING)); V(all) keeps every state.
      - The default leaves out clusters that have no usable API endpoint yet or any more.
    type: list
    elements: str
    default: [ACTIVE, UPDATING]
  strict_permissions:
    description:
      - When V(true), an AccessDenied answer fails the inventory, naming the call, region and
        identity.
      - When V(false), a region or cluster the identity may not read is skipped with a warning.
    type: bool
    default: true
  strict_regions:
    description:
      - What to do when a region cannot be listed for an identity (a profile of O(profiles), or
        the credentials given) because an AWS call still fails after the retries (throttling,
        server errors, an endpoint that cannot be reached, refused credentials), or when a
        cluster cannot be described. AccessDenied is governed by O(strict_permissions).
      - When V(true), the inventory source fails, naming the call, region and identity, and makes
        no host at all, so no playbook runs on part of the fleet. The collection's playbooks
        stop on such a failure even though C(ansible-playbook) only warns about a failed inventory
        source by default (see the notes).
      - When V(false), what cannot be listed is skipped and named in a warning, and the run goes
        on with the clusters of the other regions and profiles. An inventory whose every region
        failed still fails. A partial listing is not cached.
    type: bool
    default: true
notes:
  - Credentials come from O(access_key)/O(secret_key)/O(session_token), O(profile), O(profiles),
    O(assume_role_arn) or boto3's usual chain (environment, shared files, instance or task role),
    exactly as in P(amazon.aws.aws_ec2#inventory). E(AWS_ENDPOINT_URL) is honoured by boto3 as well as
    O(endpoint_url).
  - O(region) (E(AWS_REGION)) is only used for C(sts:AssumeRole) with O(assume_role_arn) (by default
    the first of O(regions)) and for C(ec2:DescribeRegions) when O(regions) is empty.
  - The cache (O(cache=true)) holds the clusters found, not the host names or groups, which are
    rebuilt on each run. Its key is made of the inventory file's path, O(regions), O(profile),
    O(profiles) and O(assume_role_arn); refresh it with C(--flush-cache) after changing
    credentials or endpoints.
  - Required IAM actions are C(eks:ListClusters) and C(eks:DescribeCluster), and
    C(ec2:DescribeRegions) when O(regions) is empty.
  - Every AWS call is retried with the collection's retry policy (jittered backoff, 8 attempts)
    on throttling (C(ThrottlingException), C(Throttling), C(RequestLimitExceeded)) and server
    errors (C(ServerException), C(ServiceUnavailableException), C(InternalFailure), ...), on top of
    botocore's own attempts (E(AWS_MAX_ATTEMPTS), E(AWS_RETRY_MODE)). AccessDenied, refused
    credentials and a missing cluster are not retried.
  - "How a failure stops a run: ansible-core turns an inventory plugin's error into a warning
    (I(Unable to parse ... as an inventory source)) and goes on without the source's hosts,
    unless C([inventory] unparsed_is_failed) or C(any_unparsed_is_failed) (E(ANSIBLE_INVENTORY_UNPARSED_FAILED),
    E(ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED)) is set, so C(ansible-playbook) would run on no
    host and exit 0. This plugin therefore leaves the variable C(eksops_inventory_errors) (the
    source's path and error) on the group C(all) when it fails, and every playbook of the
    collection first imports C(eksops.windows.common.inventory_guard), which fails the run with those
    errors. Your own playbooks can import it too (C(ansible.builtin.import_playbook:
    eksops.windows.common.inventory_guard)); setting C(any_unparsed_is_failed = true) in C(ansible.cfg)
    makes any playbook fail on it."
  - In AWX and Ansible Automation Platform, an inventory update runs C(ansible-inventory) with
    E(ANSIBLE_INVENTORY_UNPARSED_FAILED) set, so a failing source fails the inventory sync; with
    I(Update on launch) the job template does not run. Without it, jobs run on the hosts of the
    last successful sync.
"""

EXAMPLES = r"""
---
# eks_clusters.yml: every cluster in two regions, grouped by region, tag and version
plugin: eksops.windows.eks_clusters
regions: [us-west-2, eu-west-1]
keyed_groups:
  - key: aws_region
    prefix: region
  - key: eks_tags
    prefix: tag
  - key: eks_version
    prefix: k8s
groups:
  # the version table needs the platform version too (1.21 eks.3 qualifies, 1.21 eks.2 does not)
  below_control_plane_table: not eks_control_plane_support
compose:
  eksops_env: eks_tags.env | default('none')

---
# prod.eks_clusters.yml: clusters of two accounts (profiles), production only, no sandboxes,
# cached for an hour in files
plugin: eksops.windows.eks_clusters
profiles: [prod-account, shared-services]
regions: [us-east-1, eu-central-1]
hostname_scheme: account/region/name
filters:
  tag:env: prod
exclude_filters:
  - name: "sandbox-*"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/eksops-inventory
cache_timeout: 3600
"""

try:
    import botocore.exceptions
    import botocore.loaders
    import botocore.regions
    import botocore.session
except ImportError:
    pass  # AWSInventoryBase.require_aws_sdk reports it

import hashlib
import json
import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.plugin_utils.inventory import AWSInventoryBase

from ansible_collections.eksops.windows.plugins.module_utils._eks_access import RETRY, TRANSIENT_ERROR_CODES
from ansible_collections.eksops.windows.plugins.module_utils._eks_token import undefined_profiles_message
from ansible_collections.eksops.windows.plugins.plugin_utils import eks_inventory
from ansible_collections.eksops.windows.plugins.plugin_utils.eks_inventory import InventoryConfigError

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 templates inventory strings without being told
    def trust_as_template(value):
        return value

GROUP = "eks_clusters"
CACHE_FORMAT = 1
# set on the group "all" when a source of this plugin fails; playbooks/common/inventory_guard.yml reads it
ERRORS_VARIABLE = "eksops_inventory_errors"


class _Skipped(Exception):
    """A call whose answer is skipped: AccessDenied with strict_permissions=false, or a cluster
    deleted between ListClusters and DescribeCluster."""


class _CallFailed(Exception):
    """An AWS call that failed for good (after the retries); strict_regions decides whether the
    whole source fails or only that region (or cluster) is skipped."""


class InventoryModule(AWSInventoryBase):

    NAME = "eksops.windows.eks_clusters"
    INVENTORY_FILE_SUFFIXES = ("eks_clusters.yml", "eks_clusters.yaml")

    def _do_fail(self, message):
        raise AnsibleError("eksops.windows.eks_clusters: %s" % message)

    # --- options -------------------------------------------------------------------------------
    def _set_frozen_credentials(self):
        # AWSInventoryBase.parse assumes assume_role_arn here; refuse the combination first
        if self.get_option("profiles") and self.get_option("assume_role_arn"):
            self._do_fail("assume_role_arn cannot be combined with profiles. Give each profile the role "
                          "to assume with role_arn and source_profile in the AWS config file instead.")
        if self.get_option("assume_role_arn") and not self.region and self.get_option("regions"):
            # sts:AssumeRole needs a region; the first listed one is as good as any
            self.set_option("region", self.get_option("regions")[0])
        super()._set_frozen_credentials()

    def get_cache_key(self, path):
        scope = json.dumps([self.get_option(o) for o in ("regions", "profile", "profiles", "assume_role_arn")],
                           sort_keys=True, default=str)
        return "%s_%s" % (super().get_cache_key(path), hashlib.sha256(scope.encode()).hexdigest()[:8])

    def _check_options(self):
        # botocore's own endpoint data, read without a session (a session fails when AWS_PROFILE is
        # wrong, before this plugin could say so)
        resolver = botocore.regions.EndpointResolver(botocore.loaders.create_loader().load_data("endpoints"))
        known = set()
        for partition in resolver.get_available_partitions():
            known.update(resolver.get_available_endpoints("eks", partition_name=partition))
        try:
            eks_inventory.check_filters(self.get_option("filters"), "filters")
            for option in ("include_filters", "exclude_filters"):
                for entry in self.get_option(option):
                    eks_inventory.check_filters(entry, option)
            eks_inventory.check_regions(self.get_option("regions"), known)
        except InventoryConfigError as e:
            self._do_fail(to_native(e))
        wanted = list(self.get_option("profiles"))
        if not wanted and self.get_option("profile"):
            wanted = [self.get_option("profile")]
        available = botocore.session.Session().available_profiles
        missing = [p for p in wanted if p not in available]
        if missing:
            self._do_fail(undefined_profiles_message(missing, available))

    def _identities(self):
        """(profile, description, credentials for every client) per identity to list with."""
        profiles = self.get_option("profiles")
        if profiles:
            return [(p, "AWS profile '%s'" % p,
                     {"profile_name": p, "aws_access_key_id": None, "aws_secret_access_key": None,
                      "aws_session_token": None}) for p in profiles]
        profile = self.get_option("profile") or None
        if self.get_option("assume_role_arn"):
            who = "role %s (assumed)" % self.get_option("assume_role_arn")
        elif profile:
            who = "AWS profile '%s'" % profile
        elif self.get_option("access_key"):
            who = "the access key given by access_key or AWS_ACCESS_KEY_ID"
        else:
            who = "the default AWS credential chain (environment, shared files, instance or task role)"
        return [(profile, who, self._frozen_credentials)]

    # --- AWS -----------------------------------------------------------------------------------
    def _call(self, action, region, who, func, *args, **kwargs):
        """func(*args, **kwargs), with every AWS failure explained: an AnsibleError for missing
        credentials and (strict_permissions) AccessDenied, _CallFailed for what still fails after
        the retries (strict_regions decides), _Skipped for what strict_permissions=false skips or
        a cluster deleted between ListClusters and DescribeCluster."""
        try:
            return func(*args, **kwargs)
        except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError):
            self._do_fail(eks_inventory.no_credentials_message(who, action, region))
        except botocore.exceptions.ClientError as e:
            error = e.response.get("Error", {})
            code, message = error.get("Code", "Unknown"), error.get("Message", to_native(e))
            if code in eks_inventory.ACCESS_DENIED and not self.get_option("strict_permissions"):
                self.warn("eks_clusters: skipped: %s may not call %s in %s (%s)" % (who, action, region, code))
                raise _Skipped() from e
            if code == "ResourceNotFoundException" and action == "eks:DescribeCluster":
                raise _Skipped() from e
            explained = eks_inventory.explain_client_error(code, message, action, region, who)
            if code in eks_inventory.ACCESS_DENIED:  # strict_permissions, whatever strict_regions says
                self._do_fail(explained)
            if AWSRetry.found(code, TRANSIENT_ERROR_CODES):  # what RETRY retries: it did, in vain
                explained += ", still after the retries with backoff"
            raise _CallFailed(explained) from e
        except botocore.exceptions.EndpointConnectionError as e:
            raise _CallFailed("%s in %s for %s: could not reach AWS (%s). Check the network and proxy, "
                              "endpoint_url or AWS_ENDPOINT_URL, and that EKS serves this region"
                              % (action, region, who, to_native(e))) from e
        except botocore.exceptions.BotoCoreError as e:
            raise _CallFailed("%s failed in %s for %s: %s" % (action, region, who, to_native(e))) from e

    def _list_region(self, region, profile, who, skipped):
        """The records of one region for one identity. A ListClusters that fails for good raises
        _CallFailed; a DescribeCluster that does fails the region too with strict_regions, and
        is otherwise skipped and added to ``skipped``."""
        client = self.client("eks", region=region, retry_decorator=RETRY)
        try:
            names = self._call("eks:ListClusters", region, who, paginated_query_with_retries,
                               client, "list_clusters", retry_decorator=RETRY)["clusters"]
        except _Skipped:
            return []
        records = []
        for name in names:
            try:
                cluster = self._call("eks:DescribeCluster", region, who, client.describe_cluster,
                                     name=name, aws_retry=True)["cluster"]
            except _Skipped:
                continue
            except _CallFailed as e:
                if self.get_option("strict_regions"):
                    raise
                self.warn("eks_clusters: skipped cluster '%s' in %s (strict_regions is false): %s" % (name, region, e))
                skipped.append("cluster '%s' in %s for %s" % (name, region, who))
                continue
            records.append(eks_inventory.cluster_record(cluster, region, profile))
        return records

    def _query(self):
        """(records, what was skipped) over every identity and region."""
        records, skipped = [], []
        listed = 0
        strict = self.get_option("strict_regions")
        saved = self._frozen_credentials
        try:
            for profile, who, credentials in self._identities():
                # AWSInventoryBase.client() passes these to every client, as it does for assume_role_arn
                self._frozen_credentials = credentials
                for region in self.get_option("regions") or self._boto3_regions(service="eks"):
                    try:
                        records.extend(self._list_region(region, profile, who, skipped))
                        listed += 1
                    except _CallFailed as e:
                        if strict:
                            self._do_fail(eks_inventory.source_failed_message(to_native(e), region))
                        self.warn("eks_clusters: skipped region %s for %s (strict_regions is false): %s"
                                  % (region, who, e))
                        skipped.append("%s for %s" % (region, who))
        finally:
            self._frozen_credentials = saved
        if skipped and not listed:
            self._do_fail(eks_inventory.nothing_listed_message(skipped))
        if skipped:
            self.warn("eks_clusters: this inventory lacks the clusters of: %s (strict_regions is false)"
                      % "; ".join(skipped))
        return records, skipped

    # --- inventory -----------------------------------------------------------------------------
    def _populate(self, records):
        kept = eks_inventory.select(
            eks_inventory.unique_clusters(records), self.get_option("filters"),
            self.get_option("include_filters"), self.get_option("exclude_filters"),
            self.get_option("statuses"))
        try:
            named = eks_inventory.hostnames(kept, self.get_option("hostname_scheme"))
        except InventoryConfigError as e:
            self._do_fail(to_native(e))
        self.inventory.add_group(GROUP)
        strict = self.get_option("strict")
        for host, record in named:
            self.inventory.add_host(host, group=GROUP)
            hostvars = eks_inventory.host_vars(record)
            hostvars["ansible_python_interpreter"] = trust_as_template("{{ ansible_playbook_python }}")
            for name, value in hostvars.items():
                self.inventory.set_variable(host, name, value)
            self._set_composite_vars(self.get_option("compose"), hostvars, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, host, strict=strict)

    def _leave_error(self, path, message):
        """Leave the failure where playbooks see it: ansible-core only warns about a failed
        source (unless told otherwise) and keeps what the plugin put into the inventory."""
        try:
            errors = list(self.inventory.groups["all"].get_vars().get(ERRORS_VARIABLE) or [])
            errors.append("%s: %s" % (os.path.basename(str(path)), message))
            self.inventory.set_variable("all", ERRORS_VARIABLE, errors)
        except Exception:  # pylint: disable=broad-except  # never hide the error being raised
            pass

    def parse(self, inventory, loader, path, cache=True):
        try:
            self._parse(inventory, loader, path, cache)
        except Exception as e:
            if getattr(self, "inventory", None) is not None:
                self._leave_error(path, to_native(e))
            raise

    def _parse(self, inventory, loader, path, cache):
        super().parse(inventory, loader, path, cache=cache)
        self._check_options()
        found, cached = self.get_cached_result(path, cache)
        records = None
        if found and isinstance(cached, dict) and cached.get("format") == CACHE_FORMAT:
            records = cached.get("clusters")
        if records is None:
            records, skipped = self._query()
            # an entry in another format is replaced, not kept; a partial listing is not kept at all
            if not skipped:
                self.update_cached_result(path, cache and not found, {"format": CACHE_FORMAT, "clusters": records})
        self._populate(records)
