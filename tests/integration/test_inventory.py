"""The eks_clusters inventory plugin (issue 5) against the lab: real `ansible-inventory` and
`ansible-playbook` runs, compared with what moto's EKS API says.

Clusters that only moto knows (a second `ops` in us-west-2, a `web-prod` in another account,
reached through sts:AssumeRole) are created through the EKS API by the `moto_only` fixture and
deleted after each test; no playbook that talks to a cluster ever runs over them (their
endpoints are moto's invented ones)."""

import json
import os
import socket
import subprocess
import sys

import boto3
import pytest

from eksopslab.faults import FaultProxy
from eksopslab.testing import COLLECTIONS, ROOT, running_lab, task_results, write_yaml

LAB_CLUSTERS = {"web-prod": "us-west-2", "web-staging": "us-west-2", "ops": "eu-west-1",
                "beijing": "cn-north-1"}
REGIONS = ["us-west-2", "eu-west-1", "cn-north-1"]
ACCOUNT = "123456789012"
OTHER_ACCOUNT = "111111111111"
OTHER_ROLE = "arn:aws:iam::%s:role/inventory" % OTHER_ACCOUNT
PLUGIN = "eksops.windows.eks_clusters"


@pytest.fixture(scope="module", name="lab")
def inventory_lab(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("inventory")), "inventory.yml") as handle:
        yield handle


@pytest.fixture(name="env")
def inventory_env(lab, tmp_path):
    """The lab's credentials and endpoint, and nothing of this machine's AWS setup: empty AWS
    config files, no instance metadata lookups, a failed inventory source fails the command."""
    empty = tmp_path / "aws-empty"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "K8S_AUTH_"))}
    env.update(lab.aws_env())
    env.update({"ANSIBLE_COLLECTIONS_PATH": COLLECTIONS, "AWS_CONFIG_FILE": str(empty),
                "AWS_SHARED_CREDENTIALS_FILE": str(empty), "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_MAX_ATTEMPTS": "2", "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
                "ANSIBLE_NOCOLOR": "1"})
    return env


def other_account_eks(lab, region):
    """An EKS client in OTHER_ACCOUNT: moto gives assumed-role credentials the role's account."""
    creds = lab.boto3_client("sts", "us-east-1").assume_role(
        RoleArn=OTHER_ROLE, RoleSessionName="inventory-test")["Credentials"]
    return boto3.client("eks", region_name=region, endpoint_url=lab.info["aws_endpoint"],
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])


@pytest.fixture(name="moto_only")
def moto_only_clusters(lab):
    created = []

    def create(name, region, version="1.30", tags=None, account=ACCOUNT):
        eks = (lab.boto3_client("eks", region) if account == ACCOUNT
               else other_account_eks(lab, region))
        eks.create_cluster(name=name, version=version, roleArn="arn:aws:iam::%s:role/extra" % account,
                           resourcesVpcConfig={"subnetIds": []}, tags=tags or {})
        created.append((eks, name))
        return eks

    yield create
    for eks, name in created:
        try:
            eks.delete_cluster(name=name)
        except eks.exceptions.ResourceNotFoundException:
            pass


def unwrap(value):
    """ansible-inventory --list marks values from the plugin (untrusted) as {"__ansible_unsafe": v}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def run_inventory(env, source, *args):
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "-i", str(source),
            "--list", *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    parsed = unwrap(json.loads(done.stdout)) if done.returncode == 0 else None
    return done.returncode, parsed, done.stdout + done.stderr


def inventory(env, tmp_path, config, *args, name="test.eks_clusters.yml"):
    path = write_yaml(tmp_path / name, dict({"plugin": PLUGIN}, **config))
    return run_inventory(env, path, *args)


def hostvars(parsed):
    return parsed["_meta"]["hostvars"]


def group(parsed, name):
    return set(parsed.get(name, {}).get("hosts", []))


def described(lab, name, region):
    return lab.boto3_client("eks", region).describe_cluster(name=name)["cluster"]


def closed_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the lab's own config: every cluster, every variable -----------------------------------------
def test_lab_config_lists_every_cluster_with_its_describe_cluster_facts(lab, env):
    rc, parsed, raw = run_inventory(env, lab.plugin_inventory())
    assert rc == 0, raw
    assert set(hostvars(parsed)) == set(LAB_CLUSTERS)
    assert group(parsed, "eks_clusters") == set(LAB_CLUSTERS)
    for name, region in LAB_CLUSTERS.items():
        cluster = described(lab, name, region)
        assert hostvars(parsed)[name] == {
            "eks_cluster_name": name,
            "aws_region": region,
            "aws_account_id": ACCOUNT,
            "eks_arn": cluster["arn"],
            "eks_version": cluster["version"],
            "eks_platform_version": cluster["platformVersion"],
            "eks_endpoint": cluster["endpoint"],
            "eks_role_arn": cluster["roleArn"],
            "eks_status": cluster["status"],
            "eks_tags": cluster["tags"],
            "eks_ip_family": cluster["kubernetesNetworkConfig"]["ipFamily"],
            "eks_authentication_mode": cluster["accessConfig"]["authenticationMode"],
            # every cluster of the scenario is in the version table, web-staging (1.21 eks.3) too
            "eks_control_plane_support": True,
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        }, name
        # what the lab made DescribeCluster say, so the comparison above is not moto's defaults
        assert cluster["endpoint"] == lab.cluster(name)["endpoint"]
        assert cluster["platformVersion"] == lab.cluster(name)["platform_version"]
        assert cluster["certificateAuthority"]["data"] not in raw
    assert hostvars(parsed)["ops"]["eks_ip_family"] == "ipv6"
    assert hostvars(parsed)["beijing"]["eks_arn"].startswith("arn:aws-cn:eks:cn-north-1:")
    assert lab.info["admin"]["secret_key"] not in raw


# --- constructed: keyed_groups, groups, compose ---------------------------------------------------
def test_keyed_groups_groups_and_compose(env, tmp_path):
    rc, parsed, raw = inventory(env, tmp_path, {
        "regions": REGIONS,
        "keyed_groups": [
            {"key": "aws_region", "prefix": "region"},
            {"key": "eks_tags", "prefix": "tag"},
            {"key": "eks_version", "prefix": "k8s"},
            {"key": "eks_tags.team | default('none')"},
        ],
        "leading_separator": False,
        "groups": {
            "control_plane_table": "eks_version is version('1.22', '>=')",
            "prod_web": "eks_tags.env == 'prod' and eks_tags.team | default('') == 'web'",
        },
        "compose": {
            "eksops_env": "eks_tags.env | default('none')",
            "eksops_label": "eks_cluster_name ~ '@' ~ aws_region",
        },
    })
    assert rc == 0, raw
    assert group(parsed, "region_us_west_2") == {"web-prod", "web-staging"}
    assert group(parsed, "region_eu_west_1") == {"ops"}
    assert group(parsed, "region_cn_north_1") == {"beijing"}
    assert group(parsed, "tag_env_prod") == {"web-prod", "ops", "beijing"}
    assert group(parsed, "tag_env_staging") == {"web-staging"}
    assert group(parsed, "tag_team_web") == {"web-prod", "web-staging"}
    assert group(parsed, "k8s_1_24") == {"web-prod"}
    assert group(parsed, "k8s_1_21") == {"web-staging"}
    assert group(parsed, "k8s_1_29") == {"ops"}
    # no prefix and leading_separator false: the bare value
    assert group(parsed, "web") == {"web-prod", "web-staging"}
    assert group(parsed, "none") == {"beijing"}
    assert group(parsed, "control_plane_table") == {"web-prod", "ops", "beijing"}
    assert group(parsed, "prod_web") == {"web-prod"}
    assert hostvars(parsed)["web-staging"]["eksops_env"] == "staging"
    assert hostvars(parsed)["beijing"]["eksops_label"] == "beijing@cn-north-1"


# --- filters --------------------------------------------------------------------------------------
@pytest.mark.parametrize("options, hosts", [
    ({"filters": {"tag:env": "prod"}, "exclude_filters": [{"region": "cn-*"}]}, {"web-prod", "ops"}),
    ({"filters": {"name": "web-*"}, "include_filters": [{"tag:team": "platform"}]},
     {"web-prod", "web-staging", "ops"}),
    ({"filters": {"version": ["1.2[34]"]}}, {"web-prod", "beijing"}),
    ({"exclude_filters": [{"tag-key": "team"}]}, {"beijing"}),
    ({"statuses": ["CREATING"]}, set()),
    ({"statuses": ["all"], "filters": {"ip-family": "ipv6"}}, {"ops"}),
])
def test_filters(env, tmp_path, options, hosts):
    rc, parsed, raw = inventory(env, tmp_path, dict({"regions": REGIONS}, **options))
    assert rc == 0, raw
    assert set(hostvars(parsed)) == hosts


def test_an_unknown_filter_is_explained(env, tmp_path):
    rc, _parsed, raw = inventory(env, tmp_path, {"regions": REGIONS, "filters": {"tags": "env=prod"}})
    assert rc != 0
    assert "filters: unknown filter 'tags'. Known filters: account-id" in raw


# --- host names -----------------------------------------------------------------------------------
def test_a_name_in_two_regions_is_qualified_by_region(lab, env, tmp_path, moto_only):
    moto_only("ops", "us-west-2", tags={"env": "dev"})
    rc, parsed, raw = inventory(env, tmp_path, {"regions": REGIONS})
    assert rc == 0, raw
    assert set(hostvars(parsed)) == {"web-prod", "web-staging", "eu-west-1/ops", "us-west-2/ops", "beijing"}
    west, europe = hostvars(parsed)["us-west-2/ops"], hostvars(parsed)["eu-west-1/ops"]
    assert (west["eks_cluster_name"], west["aws_region"], west["eks_tags"]) == ("ops", "us-west-2", {"env": "dev"})
    assert west["eks_arn"] == described(lab, "ops", "us-west-2")["arn"]
    assert (europe["eks_cluster_name"], europe["aws_region"]) == ("ops", "eu-west-1")
    assert europe["eks_endpoint"] == lab.cluster("ops")["endpoint"]

    rc, parsed, raw = inventory(env, tmp_path, {"regions": REGIONS, "hostname_scheme": "region/name"})
    assert rc == 0, raw
    assert set(hostvars(parsed)) == {"us-west-2/web-prod", "us-west-2/web-staging", "eu-west-1/ops",
                                     "us-west-2/ops", "cn-north-1/beijing"}

    rc, _parsed, raw = inventory(env, tmp_path, {"regions": REGIONS, "hostname_scheme": "name"})
    assert rc != 0
    assert "hostname_scheme 'name' gives 2 clusters the host name 'ops'" in raw
    assert "arn:aws:eks:eu-west-1:%s:cluster/ops" % ACCOUNT in raw
    assert "arn:aws:eks:us-west-2:%s:cluster/ops" % ACCOUNT in raw


# --- credentials: profiles, accounts, assumed roles -----------------------------------------------
def aws_files(lab, tmp_path):
    admin = lab.info["admin"]
    config = tmp_path / "aws-config"
    config.write_text("[profile lab]\n\n[profile lab-again]\n\n[profile other]\n"
                      "role_arn = %s\nsource_profile = lab\n" % OTHER_ROLE)
    credentials = tmp_path / "aws-credentials"
    credentials.write_text("".join("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                                   % (p, admin["access_key"], admin["secret_key"]) for p in ("lab", "lab-again")))
    return {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials)}


def test_profiles_list_several_accounts_and_each_cluster_once(lab, env, tmp_path, moto_only):
    moto_only("web-prod", "us-west-2", version="1.31", tags={"env": "prod"}, account=OTHER_ACCOUNT)
    env = dict(env, **aws_files(lab, tmp_path))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name)  # the profiles' own credentials, nothing else
    rc, parsed, raw = inventory(env, tmp_path, {"regions": REGIONS, "profiles": ["lab", "lab-again", "other"]})
    assert rc == 0, raw
    hosts = hostvars(parsed)
    ours, theirs = "%s/us-west-2/web-prod" % ACCOUNT, "%s/us-west-2/web-prod" % OTHER_ACCOUNT
    assert set(hosts) == {ours, theirs, "web-staging", "ops", "beijing"}
    assert {h: v["aws_profile"] for h, v in hosts.items()} == {
        ours: "lab", theirs: "other", "web-staging": "lab", "ops": "lab", "beijing": "lab"}
    assert hosts[theirs]["aws_account_id"] == OTHER_ACCOUNT
    assert hosts[theirs]["eks_arn"] == "arn:aws:eks:us-west-2:%s:cluster/web-prod" % OTHER_ACCOUNT
    assert hosts[theirs]["eks_version"] == "1.31"
    assert hosts[ours]["eks_version"] == "1.24"

    # filters apply before naming: one web-prod left, so it keeps its plain name
    rc, parsed, raw = inventory(env, tmp_path, {"regions": ["us-west-2"], "profiles": ["lab", "other"],
                                                "filters": {"profile": "other"}})
    assert rc == 0, raw
    assert set(hostvars(parsed)) == {"web-prod"}
    assert hostvars(parsed)["web-prod"]["aws_account_id"] == OTHER_ACCOUNT


def test_assume_role_arn_lists_the_role_account(env, tmp_path, moto_only):
    moto_only("web-prod", "us-west-2", tags={"env": "prod"}, account=OTHER_ACCOUNT)
    rc, parsed, raw = inventory(env, tmp_path, {"regions": ["us-west-2"], "assume_role_arn": OTHER_ROLE,
                                                "hostname_scheme": "account/region/name"})
    assert rc == 0, raw
    assert set(hostvars(parsed)) == {"%s/us-west-2/web-prod" % OTHER_ACCOUNT}
    assert "aws_profile" not in hostvars(parsed)["%s/us-west-2/web-prod" % OTHER_ACCOUNT]


# --- caching ---------------------------------------------------------------------------------------
def test_cache_serves_the_second_run_without_aws(lab, env, tmp_path, moto_only):
    eks = moto_only("ops", "us-west-2")
    cache_dir = tmp_path / "cache"
    cached = {"regions": ["us-west-2", "eu-west-1"], "cache": True,
              "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(cache_dir)}
    rc, parsed, raw = inventory(env, tmp_path, cached)
    assert rc == 0, raw
    first = hostvars(parsed)
    assert set(first) == {"web-prod", "web-staging", "eu-west-1/ops", "us-west-2/ops"}
    written = "".join(p.read_text() for p in cache_dir.iterdir())
    entries = [json.loads(p.read_text()) for p in cache_dir.iterdir()]
    entries = [json.loads(e["__payload__"]) if "__payload__" in e else e for e in entries]
    assert [sorted((c["region"], c["name"]) for c in e["clusters"]) for e in entries] == [[
        ("eu-west-1", "ops"), ("us-west-2", "ops"), ("us-west-2", "web-prod"), ("us-west-2", "web-staging")]]
    for name, region in LAB_CLUSTERS.items():
        assert described(lab, name, region)["certificateAuthority"]["data"] not in written
    assert lab.info["admin"]["secret_key"] not in written

    # the cluster goes away, and AWS can no longer be reached at all
    eks.delete_cluster(name="ops")
    dead = dict(env, AWS_ENDPOINT_URL="http://127.0.0.1:%d" % closed_port())
    rc, _parsed, raw = inventory(dead, tmp_path, dict(cached, cache=False))
    assert rc != 0
    assert "eks:ListClusters in us-west-2" in raw and "could not reach AWS" in raw

    rc, parsed, raw = inventory(dead, tmp_path, cached)
    assert rc == 0, raw
    assert hostvars(parsed) == first

    # filters and names are rebuilt from the cached clusters, still with no AWS call
    rc, parsed, raw = inventory(dead, tmp_path, dict(cached, filters={"name": "web-*"}))
    assert rc == 0, raw
    assert set(hostvars(parsed)) == {"web-prod", "web-staging"}

    # --flush-cache asks AWS again and sees the deletion; so does a run without the cache
    rc, parsed, raw = inventory(env, tmp_path, cached, "--flush-cache")
    assert rc == 0, raw
    assert set(hostvars(parsed)) == {"web-prod", "web-staging", "ops"}
    rc, parsed, raw = inventory(dead, tmp_path, cached)
    assert rc == 0, raw
    assert set(hostvars(parsed)) == {"web-prod", "web-staging", "ops"}

    # other regions are another cache entry: asking for them needs AWS
    rc, _parsed, raw = inventory(dead, tmp_path, dict(cached, regions=["eu-west-1"]))
    assert rc != 0
    assert "could not reach AWS" in raw


# --- playbooks over the plugin inventory -----------------------------------------------------------
def test_cluster_info_playbook_runs_on_every_cluster_of_the_plugin_inventory(lab):
    rc, parsed, raw = lab.run_playbook(os.path.join(ROOT, "playbooks", "cluster_info.yml"),
                                       inventory=lab.plugin_inventory(),
                                       env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
    assert rc == 0, raw
    results = task_results(parsed, "Read the cluster through its EKS endpoint")
    assert set(results) == set(LAB_CLUSTERS)
    for name, region in LAB_CLUSTERS.items():
        result = results[name]
        assert result["cluster"]["name"] == name
        assert result["cluster"]["region"] == region
        assert result["cluster"]["version"] == lab.cluster(name)["version"]
        assert result["auth_method"] == "eks-token"
        assert result["server_version"]["git_version"] == "v1.20.2"
    assert results["web-prod"]["node_counts"] == {"linux": 1, "windows": 1}
    assert all(s["failures"] == 0 and s["unreachable"] == 0 for s in parsed["stats"].values())


def test_host_variables_drive_connection_and_interpreter_and_stay_untemplated(lab, env, tmp_path, moto_only):
    moto_only("ops", "us-west-2", tags={"note": "{{ 6 * 7 }}"})
    config = write_yaml(tmp_path / "hosts.eks_clusters.yml", {"plugin": PLUGIN, "regions": REGIONS})
    rc, parsed, raw = lab.run_playbook(os.path.join(ROOT, "tests", "integration", "playbooks", "inventory_hosts.yml"),
                                       inventory=config, env=env)
    assert rc == 0, raw
    facts = task_results(parsed, "Run a module through the host's connection")
    messages = task_results(parsed, "Show the variables the roles read")
    assert set(facts) == set(messages) == {"web-prod", "web-staging", "eu-west-1/ops", "us-west-2/ops", "beijing"}
    for host, result in facts.items():
        # no SSH (these host names resolve nowhere): the module ran locally, in Ansible's own Python
        python = messages[host]["msg"].rsplit(" ", 1)[1]
        assert result["ansible_facts"]["ansible_python"]["executable"] == python, host
    assert messages["us-west-2/ops"]["msg"].startswith("ops us-west-2 1.30 {'note': '{{ 6 * 7 }}'}")
    assert messages["beijing"]["msg"].startswith("beijing cn-north-1 1.23 {'env': 'prod'}")


# --- the roles reach each cluster with its host's aws_profile ---------------------------------------
OUTSIDER = "outsider"  # an IAM user of the lab's account that no cluster maps: the API servers answer 401


@pytest.fixture(name="fleet")
def profiles_fleet(lab, env, tmp_path):
    """Runs playbooks over an inventory the plugin lists with `profiles: [lab]` (every host gets
    aws_profile=lab, the lab admin's keys), in an environment whose own AWS credentials are
    those of `outsider` (a real IAM user that no cluster maps), or none at all."""
    files = aws_files(lab, tmp_path)
    config = write_yaml(tmp_path / "fleet.eks_clusters.yml",
                        {"plugin": PLUGIN, "regions": REGIONS, "profiles": ["lab"]})

    def run(playbook, *args, credentials=OUTSIDER, **kwargs):
        user = lab.info["users"][credentials] if credentials else {"access_key": "", "secret_key": ""}
        run_env = dict(env, **files)
        run_env.update({"AWS_ACCESS_KEY_ID": user["access_key"], "AWS_SECRET_ACCESS_KEY": user["secret_key"]})
        return lab.run_playbook(playbook, *args, inventory=config, env=run_env, **kwargs)

    return run


def real_writes(lab):
    """The write requests of every lab cluster, without server-side dry runs (kubernetes.core's
    check mode sends those; the API server persists nothing)."""
    return {name: [w for w in writes if "dryRun=All" not in w[1]]
            for name, writes in lab.writes(list(LAB_CLUSTERS)).items()}


def admin_reads(lab, names):
    """How many requests each API server has answered for the lab admin (the profile's identity)."""
    return {name: len(lab.requests(name)) for name in names}


@pytest.mark.parametrize("credentials", [OUTSIDER, None])
def test_cluster_info_reaches_every_cluster_with_the_hosts_profile(lab, fleet, credentials):
    before = admin_reads(lab, LAB_CLUSTERS)
    rc, parsed, raw = fleet(os.path.join(ROOT, "playbooks", "cluster_info.yml"), credentials=credentials)
    assert rc == 0, raw
    results = task_results(parsed, "Read the cluster through its EKS endpoint")
    assert set(results) == set(LAB_CLUSTERS)
    for name in LAB_CLUSTERS:
        assert results[name]["cluster"]["version"] == lab.cluster(name)["version"], name
        assert results[name]["auth_method"] == "eks-token"
    # the API servers saw the profile's identity (the cluster creator), not the environment's
    after = admin_reads(lab, LAB_CLUSTERS)
    assert all(after[name] > before[name] for name in LAB_CLUSTERS), (before, after)

    # the control: without the host's profile, the environment's credentials do not get in
    rc, parsed, raw = fleet(os.path.join(ROOT, "playbooks", "cluster_info.yml"), "-l", "web-prod",
                            "-e", "aws_profile=", credentials=credentials)
    assert rc != 0, raw
    msg = task_results(parsed, "Read the cluster through its EKS endpoint")["web-prod"]["msg"]
    assert ("refused our credentials (401)" in msg if credentials else "Unable to locate credentials" in msg), msg


def test_roles_use_the_hosts_profile_over_the_environments_credentials(lab, fleet, tmp_path):
    # fleet_report (eks_windows_info): every cluster assessed
    rc, parsed, raw = fleet("eksops.windows.fleet_report", "-e", "fleet_report_dir=%s" % (tmp_path / "report"),
                            "-e", "fleet_report_fail_on_error=true")
    assert rc == 0, raw
    with open(tmp_path / "report" / "fleet-report.json", encoding="utf-8") as handle:
        report = json.load(handle)
    assert report["totals"] == dict(report["totals"], clusters=4, assessed=4, failed=0), report["totals"]

    # enable in check mode: the preflight (eks_windows_info), then eks_windows_support; no write
    writes = real_writes(lab)
    rc, parsed, raw = fleet("eksops.windows.enable", "-l", "web-prod,web-staging", check=True)
    assert rc == 0, raw
    results = task_results(parsed, "Enable control-plane Windows support")
    assert set(results) == {"web-prod", "web-staging"}
    assert all(r["configmap"]["after"] == "true" and r["changed"] for r in results.values()), results
    # workload_selectors (eks_windows_workloads) and legacy_remove (eks_windows_legacy), read only here
    rc, parsed, raw = fleet("eksops.windows.workload_selectors", "-l", "web-prod")
    assert rc == 0, raw
    assert task_results(parsed, "Audit (or fix) the OS selectors of the cluster's workloads")["web-prod"]["mixed"] is True
    rc, parsed, raw = fleet("eksops.windows.legacy_remove", "-l", "web-staging", check=True)
    assert rc == 0, raw
    assert task_results(parsed, "Remove legacy Windows support")["web-staging"]["deleted"] == []
    # windows_sample: kubernetes.core through the eks_kubeconfig lookup, whose exec user makes
    # the tokens with the same profile
    rc, parsed, raw = fleet("eksops.windows.deploy_windows_sample", "-l", "web-prod", check=True)
    assert rc == 0, raw
    nodes = task_results(parsed, "Find the cluster's Windows nodes")["web-prod"]["resources"]
    assert [n["metadata"]["name"] for n in nodes] == ["inv-wp-2"]
    assert real_writes(lab) == writes

    # the controls: the same roles with the profile emptied fall back to the environment's
    # credentials, which the clusters refuse
    rc, parsed, raw = fleet("eksops.windows.enable", "-l", "web-prod", "-e", "enable_aws_profile=", check=True)
    assert rc != 0, raw
    assert "refused our credentials (401)" in task_results(
        parsed, "Enable control-plane Windows support")["web-prod"]["msg"]
    rc, parsed, raw = fleet("eksops.windows.deploy_windows_sample", "-l", "web-prod",
                            "-e", "windows_sample_aws_profile=", check=True)
    assert rc != 0, raw
    assert "401" in task_results(parsed, "Find the cluster's Windows nodes")["web-prod"]["msg"]


def test_an_undefined_profile_is_named(fleet):
    rc, parsed, raw = fleet(os.path.join(ROOT, "playbooks", "cluster_info.yml"), "-l", "web-prod",
                            "-e", "aws_profile=prod-account")
    assert rc != 0, raw
    msg = task_results(parsed, "Read the cluster through its EKS endpoint")["web-prod"]["msg"]
    assert "AWS profile 'prod-account' is not defined in the AWS config or credentials file" in msg, msg
    assert "profiles found: lab, lab-again, other" in msg, msg
    # the lookup of windows_sample says the same
    rc, parsed, raw = fleet("eksops.windows.deploy_windows_sample", "-l", "web-prod",
                            "-e", "windows_sample_aws_profile=prod-account", check=True)
    assert rc != 0, raw
    assert "AWS profile 'prod-account' is not defined in the AWS config or credentials file" in raw, raw
    assert "profiles found: lab, lab-again, other" in raw, raw


# --- errors ----------------------------------------------------------------------------------------
def test_a_misspelt_region_is_refused_before_any_call(env, tmp_path):
    rc, _parsed, raw = inventory(env, tmp_path, {"regions": ["us-weest-2", "eu-west-1"]})
    assert rc != 0
    assert "regions: 'us-weest-2' (did you mean us-west-2 or us-west-1?) is not a region where botocore knows EKS" in raw


def test_missing_credentials_are_explained(env, tmp_path):
    env = {k: v for k, v in env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    rc, _parsed, raw = inventory(env, tmp_path, {"regions": ["us-west-2"]})
    assert rc != 0
    assert "No AWS credentials were found to call eks:ListClusters in us-west-2" in raw
    assert "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE" in raw


def test_profile_mistakes_are_explained(lab, env, tmp_path):
    env = dict(env, **aws_files(lab, tmp_path))
    rc, _parsed, raw = inventory(env, tmp_path, {"regions": ["us-west-2"], "profiles": ["lab", "prod"]})
    assert rc != 0
    assert "AWS profile 'prod' is not defined in the AWS config or credentials file" in raw
    assert "profiles found: lab, lab-again, other" in raw
    rc, _parsed, raw = inventory(env, tmp_path, {"regions": ["us-west-2"], "profiles": ["lab"],
                                                 "assume_role_arn": OTHER_ROLE})
    assert rc != 0
    assert "assume_role_arn cannot be combined with profiles" in raw


# --- AWS failing: throttling and server errors through the lab's fault proxy (issue 11) ----------
@pytest.fixture(name="faults")
def aws_faults(lab):
    """The lab's fault proxy in front of moto. Point AWS_ENDPOINT_URL at faults.url for the
    inventory alone; a playbook that reaches clusters sends only EKS there (AWS_ENDPOINT_URL_EKS),
    since the lab's token webhook takes tokens presigned for moto's own address."""
    with FaultProxy(lab.info["aws_endpoint"]) as proxy:
        yield proxy


def answers(calls):
    return [(c["status"], c["fault"]) for c in calls]


def test_throttled_list_clusters_is_retried_and_every_cluster_listed(env, tmp_path, faults):
    faults.fail("ListClusters", "throttle", times=3, region="us-west-2")
    # botocore makes AWS_MAX_ATTEMPTS=2 attempts: alone it would give up after two throttles
    rc, parsed, raw = inventory(dict(env, AWS_ENDPOINT_URL=faults.url), tmp_path, {"regions": REGIONS})
    assert rc == 0, raw
    assert set(hostvars(parsed)) == set(LAB_CLUSTERS)
    assert "skipped" not in raw
    assert answers(faults.calls("ListClusters", "us-west-2")) == [(400, "throttle")] * 3 + [(200, None)]
    assert answers(faults.calls("ListClusters", "eu-west-1")) == [(200, None)]
    assert [c["status"] for c in faults.calls("DescribeCluster")] == [200] * len(LAB_CLUSTERS)


def default_cfg(env):
    """The environment of a user with a default ansible.cfg: a failed inventory source is a warning."""
    return {k: v for k, v in env.items() if not k.startswith("ANSIBLE_INVENTORY_")}


def test_a_region_failing_for_good_fails_the_playbook_and_reaches_no_cluster(lab, env, tmp_path, faults):
    faults.fail("ListClusters", "server", region="eu-west-1")  # every call, every retry
    config = write_yaml(tmp_path / "failing.eks_clusters.yml", {"plugin": PLUGIN, "regions": REGIONS})
    before = admin_reads(lab, LAB_CLUSTERS)
    rc, parsed, raw = lab.run_playbook(os.path.join(ROOT, "playbooks", "enable.yml"), inventory=config,
                                       env=dict(default_cfg(env), AWS_ENDPOINT_URL=faults.url), check=True)
    assert rc == 2, raw
    guard = task_results(parsed, "Fail on the errors of the inventory sources")["localhost"]
    assert guard["failed"], guard
    assert guard["msg"].startswith(
        "The inventory is incomplete, so nothing runs: failing.eks_clusters.yml: eksops.windows.eks_clusters: "
        "eks:ListClusters failed in eu-west-1 for the access key given by access_key or AWS_ACCESS_KEY_ID "
        "(ServerException: "), guard["msg"]
    assert "set strict_regions: false" in guard["msg"]
    assert task_results(parsed, "Enable control-plane Windows support") == {}
    assert admin_reads(lab, LAB_CLUSTERS) == before  # no cluster was read, let alone written
    # the retries: botocore's 2 attempts, 8 times over
    assert answers(faults.calls("ListClusters", "eu-west-1")) == [(500, "server")] * 16


def test_not_strict_a_failed_region_is_skipped_named_and_the_others_run(lab, env, tmp_path, faults):
    # an error no one retries: the region fails at once (the strict test above waits out the retries)
    faults.fail("ListClusters", "refused", region="eu-west-1")
    config = write_yaml(tmp_path / "partial.eks_clusters.yml",
                        {"plugin": PLUGIN, "regions": REGIONS, "strict_regions": False})
    rc, parsed, raw = lab.run_playbook(os.path.join(ROOT, "playbooks", "cluster_info.yml"), inventory=config,
                                       env=dict(default_cfg(env), AWS_ENDPOINT_URL_EKS=faults.url))
    assert rc == 0, raw
    results = task_results(parsed, "Read the cluster through its EKS endpoint")
    assert set(results) == {"web-prod", "web-staging", "beijing"}
    assert all(r["cluster"]["version"] == lab.cluster(n)["version"] for n, r in results.items())
    flat = " ".join(raw.split())
    assert ("eks_clusters: skipped region eu-west-1 for the access key given by access_key or "
            "AWS_ACCESS_KEY_ID (strict_regions is false): eks:ListClusters failed in eu-west-1") in flat, raw
    assert "ClientException" in flat, raw
    assert answers(faults.calls("ListClusters", "eu-west-1")) == [(400, "refused")]
    assert ("eks_clusters: this inventory lacks the clusters of: eu-west-1 for the access key given by "
            "access_key or AWS_ACCESS_KEY_ID (strict_regions is false)") in flat, raw


@pytest.mark.parametrize("kind", ["throttle", "server"])
def test_describe_cluster_failing_twice_is_retried_by_the_module_and_the_lookup(lab, env, faults, kind):
    # AWS_MAX_ATTEMPTS=1: botocore does not retry, so every retry the proxy sees is the collection's
    run_env = dict(env, AWS_ENDPOINT_URL_EKS=faults.url, AWS_MAX_ATTEMPTS="1")
    faults.fail("DescribeCluster", kind, times=2, region="us-west-2")
    rc, parsed, raw = lab.run_playbook(os.path.join(ROOT, "playbooks", "cluster_info.yml"), "-l", "web-prod",
                                       env=run_env)
    assert rc == 0, raw
    result = task_results(parsed, "Read the cluster through its EKS endpoint")["web-prod"]
    assert result["cluster"]["version"] == lab.cluster("web-prod")["version"]
    status = 400 if kind == "throttle" else 500
    assert answers(faults.calls("DescribeCluster")) == [(status, kind)] * 2 + [(200, None)]

    faults.fail("DescribeCluster", kind, times=2, region="us-west-2")
    rc, parsed, raw = lab.run_playbook(
        os.path.join(ROOT, "tests", "integration", "playbooks", "lookup_with_kubernetes_core.yml"),
        "-l", "web-prod", env=run_env)
    assert rc == 0, raw
    nodes = task_results(parsed, "List the nodes")["web-prod"]["resources"]
    assert sorted(n["metadata"]["name"] for n in nodes) == ["inv-wp-1", "inv-wp-2"]
    assert answers(faults.calls("DescribeCluster")[3:]) == [(status, kind)] * 2 + [(200, None)]
