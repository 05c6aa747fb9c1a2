"""Unit tests of the eks_clusters inventory: host naming, filters, host variables, option checks,
and how AWS answers (pages, AccessDenied, clusters deleted meanwhile) are handled. No network:
AWS answers come from botocore's Stubber."""

import boto3
import pytest
from ansible.errors import AnsibleError
from ansible.inventory.data import InventoryData
from ansible_collections.amazon.aws.plugins.module_utils import cloud
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from botocore.stub import Stubber

from ansible_collections.eksops.windows.plugins.inventory import eks_clusters
from ansible_collections.eksops.windows.plugins.plugin_utils import eks_inventory as inv
from ansible_collections.eksops.windows.plugins.plugin_utils.eks_inventory import InventoryConfigError

CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="


def describe(name, region="us-west-2", account="123456789012", partition="aws", **extra):
    """A DescribeCluster answer as EKS gives it."""
    cluster = {
        "name": name,
        "arn": "arn:%s:eks:%s:%s:cluster/%s" % (partition, region, account, name),
        "version": "1.29",
        "platformVersion": "eks.7",
        "status": "ACTIVE",
        "endpoint": "https://%s.example" % name,
        "roleArn": "arn:%s:iam::%s:role/%s-role" % (partition, account, name),
        "certificateAuthority": {"data": CA},
        "kubernetesNetworkConfig": {"ipFamily": "ipv4", "serviceIpv4Cidr": "10.100.0.0/16"},
        "tags": {},
    }
    cluster.update(extra)
    return cluster


def record(name, region="us-west-2", account="123456789012", profile=None, **extra):
    return inv.cluster_record(describe(name, region, account, **extra), region, profile)


# --- records and host variables -----------------------------------------------------------------
def test_record_keeps_the_facts_and_never_the_ca():
    rec = inv.cluster_record(describe("prod", "cn-north-1", partition="aws-cn", tags={"env": "prod"}),
                             "cn-north-1", "china")
    assert rec == {
        "name": "prod", "arn": "arn:aws-cn:eks:cn-north-1:123456789012:cluster/prod",
        "region": "cn-north-1", "partition": "aws-cn", "version": "1.29", "platform_version": "eks.7",
        "status": "ACTIVE", "endpoint": "https://prod.example",
        "role_arn": "arn:aws-cn:iam::123456789012:role/prod-role", "ip_family": "ipv4",
        "tags": {"env": "prod"}, "account_id": "123456789012", "profile": "china",
        "auto_mode": False, "hybrid_nodes": False, "authentication_mode": "CONFIG_MAP",
    }
    assert CA not in repr(rec)


def test_ip_family_defaults_to_ipv4_when_eks_does_not_say():
    assert record("old", kubernetesNetworkConfig={})["ip_family"] == "ipv4"


def test_auto_mode_and_hybrid_nodes_from_describe_cluster():
    # botocore's EKS model: computeConfig {enabled, nodePools, nodeRoleArn}, remoteNetworkConfig
    auto = record("auto", computeConfig={"enabled": True, "nodePools": ["general-purpose", "system"],
                                         "nodeRoleArn": "arn:aws:iam::123456789012:role/n"})
    assert (auto["auto_mode"], auto["hybrid_nodes"]) == (True, False)
    assert record("off", computeConfig={"enabled": False})["auto_mode"] is False
    hybrid = record("hybrid", remoteNetworkConfig={"remoteNodeNetworks": [{"cidrs": ["10.80.0.0/16"]}]})
    assert (hybrid["auto_mode"], hybrid["hybrid_nodes"]) == (False, True)
    assert record("empty", remoteNetworkConfig={"remoteNodeNetworks": []})["hybrid_nodes"] is False


def test_host_vars_are_the_names_the_roles_read():
    hostvars = inv.host_vars(record("web", tags={"env": "prod"}, version="1.24", platformVersion="eks.8"))
    assert hostvars == {
        "eks_cluster_name": "web", "aws_region": "us-west-2", "aws_account_id": "123456789012",
        "eks_arn": "arn:aws:eks:us-west-2:123456789012:cluster/web", "eks_version": "1.24",
        "eks_platform_version": "eks.8", "eks_endpoint": "https://web.example",
        "eks_role_arn": "arn:aws:iam::123456789012:role/web-role", "eks_status": "ACTIVE",
        "eks_tags": {"env": "prod"}, "eks_ip_family": "ipv4", "eks_authentication_mode": "CONFIG_MAP",
        "eks_control_plane_support": True, "ansible_connection": "local",
    }
    assert "aws_profile" not in hostvars
    assert CA not in repr(hostvars)


@pytest.mark.parametrize("version, platform, supported", [
    ("1.21", "eks.3", True), ("1.21", "eks.2", False), ("1.20", "eks.3", True), ("1.16", "eks.9", False),
    ("1.29", "eks.1", True), ("garbage", "eks.1", None)])
def test_host_vars_say_whether_the_version_table_admits_the_cluster(version, platform, supported):
    hostvars = inv.host_vars(record("web", version=version, platformVersion=platform))
    assert hostvars["eks_control_plane_support"] is supported


def test_host_vars_name_the_profile_that_listed_the_cluster():
    assert inv.host_vars(record("web", profile="prod-account"))["aws_profile"] == "prod-account"


@pytest.mark.parametrize("arn, account", [
    ("arn:aws:eks:us-west-2:123456789012:cluster/a", "123456789012"),
    ("arn:aws-us-gov:eks:us-gov-west-1:111122223333:cluster/a", "111122223333"),
    (None, None),
    ("not-an-arn", None),
])
def test_account_of_arn(arn, account):
    assert inv.account_of_arn(arn) == account


def test_a_cluster_seen_by_two_profiles_is_kept_once_under_the_first():
    records = [record("a", profile="one"), record("b", profile="one"),
               record("a", profile="two"), record("a", account="999999999999", profile="two")]
    kept = inv.unique_clusters(records)
    assert [(r["name"], r["account_id"], r["profile"]) for r in kept] == [
        ("a", "123456789012", "one"), ("b", "123456789012", "one"), ("a", "999999999999", "two")]


# --- host names ---------------------------------------------------------------------------------
def names(records, scheme="auto"):
    return [name for name, _record in inv.hostnames(records, scheme)]


def test_unique_names_are_the_cluster_names_sorted():
    assert names([record("web"), record("data", "eu-west-1"), record("ops", "cn-north-1")]) == [
        "data", "ops", "web"]


def test_a_name_in_two_regions_is_qualified_by_region_for_both_and_only_for_them():
    named = inv.hostnames([record("ops", "eu-west-1"), record("web"), record("ops", "us-west-2")])
    assert [(n, r["region"]) for n, r in named] == [
        ("eu-west-1/ops", "eu-west-1"), ("us-west-2/ops", "us-west-2"), ("web", "us-west-2")]


def test_a_name_in_two_accounts_of_one_region_is_qualified_by_account():
    records = [record("web"), record("web", account="111111111111"), record("web", "eu-west-1")]
    assert names(records) == ["111111111111/us-west-2/web", "123456789012/eu-west-1/web",
                              "123456789012/us-west-2/web"]


def test_naming_does_not_depend_on_the_order_found():
    records = [record("ops", "eu-west-1"), record("ops"), record("web")]
    assert names(records) == names(list(reversed(records)))


@pytest.mark.parametrize("scheme, expected", [
    ("name", ["data", "web"]),
    ("region/name", ["eu-west-1/data", "us-west-2/web"]),
    ("account/region/name", ["123456789012/eu-west-1/data", "123456789012/us-west-2/web"]),
])
def test_fixed_schemes_name_every_host_the_same_way(scheme, expected):
    assert names([record("web"), record("data", "eu-west-1")], scheme) == expected


def test_a_fixed_scheme_refuses_two_clusters_on_one_host_name():
    with pytest.raises(InventoryConfigError) as error:
        inv.hostnames([record("ops", "eu-west-1"), record("ops")], "name")
    message = str(error.value)
    assert "gives 2 clusters the host name 'ops'" in message
    assert "arn:aws:eks:eu-west-1:123456789012:cluster/ops" in message
    assert "arn:aws:eks:us-west-2:123456789012:cluster/ops" in message
    assert "auto or region/name or account/region/name" in message
    with pytest.raises(InventoryConfigError, match="host name 'us-west-2/web'"):
        inv.hostnames([record("web"), record("web", account="111111111111")], "region/name")


def test_an_unknown_scheme_is_refused():
    with pytest.raises(InventoryConfigError, match="'arn' is not one of auto, name"):
        inv.hostnames([record("web")], "arn")


# --- filters ------------------------------------------------------------------------------------
FLEET = [
    record("web-prod", tags={"env": "prod", "team": "web"}, version="1.24"),
    record("web-staging", tags={"env": "staging", "team": "web"}, version="1.21"),
    record("data-prod", "eu-west-1", tags={"env": "prod"}, version="1.29"),
    record("sandbox-1", tags={}, status="CREATING"),
    record("old", "eu-west-1", tags={"retire": "yes"}, status="FAILED"),
]


def kept(**kwargs):
    return [r["name"] for r in inv.select(FLEET, **kwargs)]


def test_default_keeps_active_and_updating_clusters():
    assert kept() == ["web-prod", "web-staging", "data-prod"]


def test_statuses_all_and_explicit():
    assert kept(statuses=["all"]) == [r["name"] for r in FLEET]
    assert kept(statuses=["creating", "FAILED"]) == ["sandbox-1", "old"]


def test_filters_must_all_match_and_take_patterns_or_lists():
    assert kept(filters={"tag:env": "prod"}) == ["web-prod", "data-prod"]
    assert kept(filters={"tag:env": "prod", "region": "us-*"}) == ["web-prod"]
    assert kept(filters={"name": ["web-*", "data-?rod"]}) == ["web-prod", "web-staging", "data-prod"]
    assert kept(filters={"version": "1.2[01]"}) == ["web-staging"]
    assert kept(filters={"account-id": "123456789012", "platform-version": "eks.7",
                         "ip-family": "ipv4", "status": "ACTIVE"}) == ["web-prod", "web-staging", "data-prod"]


def test_tag_filters_need_the_tag():
    assert kept(filters={"tag:team": "*"}) == ["web-prod", "web-staging"]
    assert kept(filters={"tag-key": "retire"}, statuses=["all"]) == ["old"]


def test_matching_is_case_sensitive():
    assert kept(filters={"tag:env": "PROD"}) == []


def test_include_filters_add_to_filters_and_exclude_filters_win():
    assert kept(filters={"tag:env": "staging"}, include_filters=[{"region": "eu-west-1"}]) == [
        "web-staging", "data-prod"]
    assert kept(include_filters=[{"name": "data-*"}]) == ["data-prod"]
    assert kept(filters={"tag:env": "prod"}, exclude_filters=[{"region": "eu-*"}]) == ["web-prod"]
    assert kept(exclude_filters=[{"tag:team": "web"}, {"name": "nothing"}]) == ["data-prod"]


def test_profile_filter():
    records = [record("a", profile="one"), record("b")]
    assert [r["name"] for r in inv.select(records, filters={"profile": "one"})] == ["a"]


@pytest.mark.parametrize("filters, words", [
    ({"tags": "x"}, "unknown filter 'tags'. Known filters: account-id, ip-family, name"),
    ({"tag:": "x"}, "unknown filter 'tag:'"),
    ({"name": {"a": 1}}, "filter 'name' takes a string or a list of strings"),
    (["name"], "each filter must be a mapping"),
])
def test_bad_filters_are_explained(filters, words):
    with pytest.raises(InventoryConfigError) as error:
        inv.check_filters(filters, "include_filters")
    assert str(error.value).startswith("include_filters: ")
    assert words in str(error.value)


# --- regions and AWS errors ---------------------------------------------------------------------
KNOWN = {"us-west-1", "us-west-2", "eu-west-1", "cn-north-1"}


def test_known_regions_pass():
    inv.check_regions(["us-west-2", "cn-north-1"], KNOWN)


def test_misspelt_regions_are_named_with_the_nearest():
    with pytest.raises(InventoryConfigError) as error:
        inv.check_regions(["us-weest-2", "eu-west-1", "mars-1"], KNOWN)
    message = str(error.value)
    assert "'us-weest-2' (did you mean us-west-2 or us-west-1?), 'mars-1' are not regions" in message
    assert "upgrade boto3 and botocore" in message


def test_access_denied_says_what_to_grant():
    message = inv.explain_client_error("AccessDeniedException", "User x is not authorized",
                                       "eks:ListClusters", "eu-west-1", "AWS profile 'ops'")
    assert message.startswith("AWS profile 'ops' may not call eks:ListClusters in eu-west-1 "
                              "(AccessDeniedException: User x is not authorized)")
    assert "eks:DescribeCluster" in message and "strict_permissions: false" in message


def test_refused_credentials_mention_expiry_and_opt_in_regions():
    message = inv.explain_client_error("UnrecognizedClientException", "The security token included in "
                                       "the request is invalid", "eks:ListClusters", "ap-east-1", "x")
    assert "AWS refused the credentials of x" in message
    assert "ap-east-1 is an opt-in region" in message


# --- the plugin's AWS calls, with botocore's Stubber ---------------------------------------------
def stubbed_plugin(options=None):
    """The plugin with options of its own, one EKS client answered by the Stubber (for every
    region: the calls come one after the other) and the backoff's sleeps recorded, not slept."""
    plugin = eks_clusters.InventoryModule()
    settings = {"strict_permissions": True, "strict_regions": True, "regions": ["us-west-2"], "profiles": []}
    settings.update(options or {})
    plugin.get_option = settings.get
    plugin.warnings = []
    plugin.warn = plugin.warnings.append
    plugin._frozen_credentials = {}
    plugin.slept = []
    client = boto3.client("eks", region_name="us-west-2", aws_access_key_id="AKIAUNIT",
                          aws_secret_access_key="unit")
    stubber = Stubber(client)
    plugin.client = lambda service, region=None, retry_decorator=None: RetryingBotoClientWrapper(
        client, eks_clusters.RETRY)
    return plugin, stubber


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(cloud.time, "sleep", slept.append)
    return slept


def test_every_page_is_read_and_a_cluster_deleted_meanwhile_is_skipped():
    plugin, stubber = stubbed_plugin()
    stubber.add_response("list_clusters", {"clusters": ["a", "gone"], "nextToken": "page2"}, {})
    stubber.add_response("list_clusters", {"clusters": ["b"]}, {"nextToken": "page2"})
    stubber.add_response("describe_cluster", {"cluster": describe("a")}, {"name": "a"})
    stubber.add_client_error("describe_cluster", "ResourceNotFoundException", "No cluster found",
                             404, expected_params={"name": "gone"})
    stubber.add_response("describe_cluster", {"cluster": describe("b", tags={"k": "v"})}, {"name": "b"})
    with stubber:
        records = plugin._list_region("us-west-2", "ops", "AWS profile 'ops'", [])
    stubber.assert_no_pending_responses()
    assert [(r["name"], r["profile"], r["tags"]) for r in records] == [("a", "ops", {}), ("b", "ops", {"k": "v"})]
    assert CA not in repr(records)


def test_access_denied_fails_with_the_call_region_and_identity():
    plugin, stubber = stubbed_plugin()
    stubber.add_client_error("list_clusters", "AccessDeniedException", "not authorized to eks:ListClusters", 403)
    with stubber, pytest.raises(AnsibleError) as error:
        plugin._list_region("eu-west-1", None, "the default AWS credential chain", [])
    message = str(error.value)
    assert message.startswith("eksops.windows.eks_clusters: the default AWS credential chain may not call "
                              "eks:ListClusters in eu-west-1 (AccessDeniedException")


def test_access_denied_is_skipped_with_a_warning_when_not_strict():
    plugin, stubber = stubbed_plugin({"strict_permissions": False})
    stubber.add_response("list_clusters", {"clusters": ["secret", "open"]}, {})
    stubber.add_client_error("describe_cluster", "AccessDeniedException", "no", 403,
                             expected_params={"name": "secret"})
    stubber.add_response("describe_cluster", {"cluster": describe("open")}, {"name": "open"})
    with stubber:
        records = plugin._list_region("us-west-2", None, "me", [])
    assert [r["name"] for r in records] == ["open"]
    assert plugin.warnings == ["eks_clusters: skipped: me may not call eks:DescribeCluster in us-west-2 "
                               "(AccessDeniedException)"]


def test_other_aws_errors_fail_even_when_not_strict_about_permissions():
    plugin, stubber = stubbed_plugin({"strict_permissions": False, "regions": ["ap-east-1"]})
    stubber.add_client_error("list_clusters", "UnrecognizedClientException", "bad token", 400)
    with stubber, pytest.raises(AnsibleError) as error:
        plugin._query()
    assert str(error.value).startswith(
        "eksops.windows.eks_clusters: AWS refused the credentials of the default AWS credential chain "
        "(environment, shared files, instance or task role) calling eks:ListClusters in ap-east-1")


# --- retries and failed regions (strict_regions) ------------------------------------------------
def throttle(stubber, method, times, code="ThrottlingException", status=400, **params):
    for _attempt in range(times):
        stubber.add_client_error(method, code, "Rate exceeded", status, expected_params=params or None)


@pytest.mark.parametrize("code, status", [("ThrottlingException", 400), ("ServerException", 500),
                                          ("ServiceUnavailableException", 503)])
def test_eks_throttling_and_server_errors_are_retried(no_sleep, code, status):
    plugin, stubber = stubbed_plugin()
    throttle(stubber, "list_clusters", 3, code, status)
    stubber.add_response("list_clusters", {"clusters": ["a"]}, {})
    throttle(stubber, "describe_cluster", 2, code, status, name="a")
    stubber.add_response("describe_cluster", {"cluster": describe("a")}, {"name": "a"})
    with stubber:
        records, skipped = plugin._query()
    stubber.assert_no_pending_responses()
    assert ([r["name"] for r in records], skipped, plugin.warnings) == (["a"], [], [])
    assert len(no_sleep) == 5


def test_a_region_failing_for_good_fails_the_source_naming_region_action_and_what_to_do(no_sleep):
    plugin, stubber = stubbed_plugin({"regions": ["us-west-2", "eu-west-1"]})
    throttle(stubber, "list_clusters", 8, "ServerException", 500)  # RETRY: 8 attempts in all
    with stubber, pytest.raises(AnsibleError) as error:
        plugin._query()
    stubber.assert_no_pending_responses()  # and eu-west-1 was not asked: nothing would be made of it
    assert len(no_sleep) == 7
    assert str(error.value) == (
        "eksops.windows.eks_clusters: eks:ListClusters failed in us-west-2 for the default AWS credential "
        "chain (environment, shared files, instance or task role) (ServerException: Rate exceeded), still "
        "after the retries with backoff. The inventory lists no cluster when a region cannot be listed, and "
        "the collection's playbooks stop on it: run again later, leave us-west-2 out of regions, or set "
        "strict_regions: false to list the other regions and profiles and skip this one with a warning.")


def test_not_strict_a_failed_region_is_skipped_and_named(no_sleep):
    plugin, stubber = stubbed_plugin({"regions": ["us-west-2", "eu-west-1"], "strict_regions": False})
    throttle(stubber, "list_clusters", 8, "ThrottlingException", 400)
    stubber.add_response("list_clusters", {"clusters": ["ops"]}, {})
    stubber.add_response("describe_cluster", {"cluster": describe("ops", "eu-west-1")}, {"name": "ops"})
    with stubber:
        records, skipped = plugin._query()
    assert [(r["name"], r["region"]) for r in records] == [("ops", "eu-west-1")]
    who = "the default AWS credential chain (environment, shared files, instance or task role)"
    assert skipped == ["us-west-2 for %s" % who]
    assert plugin.warnings[0].startswith("eks_clusters: skipped region us-west-2 for %s (strict_regions is "
                                         "false): eks:ListClusters failed in us-west-2" % who)
    assert plugin.warnings[1] == ("eks_clusters: this inventory lacks the clusters of: us-west-2 for %s "
                                  "(strict_regions is false)" % who)


def test_not_strict_a_cluster_that_cannot_be_described_is_skipped_and_named():
    plugin, stubber = stubbed_plugin({"strict_regions": False})
    stubber.add_response("list_clusters", {"clusters": ["sick", "fine"]}, {})
    throttle(stubber, "describe_cluster", 8, "ServerException", 500, name="sick")
    stubber.add_response("describe_cluster", {"cluster": describe("fine")}, {"name": "fine"})
    with stubber:
        records, skipped = plugin._query()
    assert [r["name"] for r in records] == ["fine"]
    assert skipped[0].startswith("cluster 'sick' in us-west-2 for the default AWS credential chain")
    assert plugin.warnings[0].startswith("eks_clusters: skipped cluster 'sick' in us-west-2 (strict_regions is "
                                         "false): eks:DescribeCluster failed in us-west-2")
    # strict (the default), the same answers fail the source
    plugin, stubber = stubbed_plugin()
    stubber.add_response("list_clusters", {"clusters": ["sick", "fine"]}, {})
    throttle(stubber, "describe_cluster", 8, "ServerException", 500, name="sick")
    with stubber, pytest.raises(AnsibleError, match="eks:DescribeCluster failed in us-west-2 .* set strict_regions: false"):
        plugin._query()


def test_not_strict_still_fails_when_no_region_could_be_listed():
    plugin, stubber = stubbed_plugin({"regions": ["us-west-2", "eu-west-1"], "strict_regions": False})
    throttle(stubber, "list_clusters", 16, "ThrottlingException", 400)
    with stubber, pytest.raises(AnsibleError) as error:
        plugin._query()
    assert str(error.value).startswith(
        "eksops.windows.eks_clusters: no region could be listed, so the inventory would have no cluster at "
        "all: skipped us-west-2 for the default AWS credential chain")
    assert "; eu-west-1 for the default AWS credential chain" in str(error.value)


def test_a_failed_source_leaves_its_error_on_the_group_all_for_the_playbooks():
    plugin = eks_clusters.InventoryModule()
    data = InventoryData()

    def failing(inventory, loader, path, cache):
        plugin.inventory = inventory
        plugin._do_fail("eks:ListClusters failed in us-west-2")

    plugin._parse = failing
    for name in ("a.eks_clusters.yml", "b.eks_clusters.yml"):
        with pytest.raises(AnsibleError, match="eks:ListClusters failed in us-west-2"):
            plugin.parse(data, None, "/etc/ansible/" + name)
    assert data.groups["all"].get_vars()[eks_clusters.ERRORS_VARIABLE] == [
        "a.eks_clusters.yml: eksops.windows.eks_clusters: eks:ListClusters failed in us-west-2",
        "b.eks_clusters.yml: eksops.windows.eks_clusters: eks:ListClusters failed in us-west-2"]


def test_verify_file_takes_only_eks_clusters_files(tmp_path):
    plugin = eks_clusters.InventoryModule()
    for name, accepted in (("eks_clusters.yml", True), ("prod.eks_clusters.yaml", True),
                           ("aws_ec2.yml", False), ("eks_clusters.json", False)):
        path = tmp_path / name
        path.write_text("plugin: eksops.windows.eks_clusters\n")
        assert plugin.verify_file(str(path)) is accepted, name
    assert plugin.verify_file(str(tmp_path / "missing.eks_clusters.yml")) is False
