import base64
import json
import os
import subprocess
import sys
import urllib.parse

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.eksops.windows.plugins.lookup import eks_kubeconfig

CLUSTER = {"name": "prod", "arn": "arn:aws:eks:us-west-2:1:cluster/prod",
           "endpoint": "https://prod.example", "certificateAuthority": {"data": "Q0E="}}


def test_kubeconfig_uses_exec_and_holds_no_token():
    config = eks_kubeconfig.build_kubeconfig(CLUSTER, "us-west-2", profile="ops",
                                             python="/usr/bin/python3")
    user = config["users"][0]["user"]
    assert set(user) == {"exec"}
    assert user["exec"]["command"] == "/usr/bin/python3"
    assert user["exec"]["args"][1:] == ["--cluster-name", "prod", "--region", "us-west-2",
                                        "--profile", "ops"]
    assert os.path.isfile(user["exec"]["args"][0])
    assert "k8s-aws-v1" not in repr(config)
    assert config["clusters"][0]["cluster"] == {"server": "https://prod.example",
                                                "certificate-authority-data": "Q0E="}


def test_endpoint_url_goes_to_the_helper_environment():
    config = eks_kubeconfig.build_kubeconfig(CLUSTER, "us-west-2", endpoint_url="http://x:1")
    assert config["users"][0]["user"]["exec"]["env"] == [
        {"name": "AWS_ENDPOINT_URL", "value": "http://x:1"}]


# --- the AWS profile: DescribeCluster and every token of the exec user use the same one -----------
ENV_KEY = "AKIAENVIRONMENT00000"
PROFILE_KEY = "AKIAPROFILEKEY000000"


@pytest.fixture(name="aws_env")
def aws_env_fixture(tmp_path):
    """An environment with access keys of one identity and an AWS config whose profile `ops` has
    another's, and nothing else of this machine's AWS setup."""
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text("[profile ops]\n\n[profile dev]\n")
    credentials.write_text("[ops]\naws_access_key_id = %s\naws_secret_access_key = profile-secret\n" % PROFILE_KEY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_ACCESS_KEY_ID": ENV_KEY, "AWS_SECRET_ACCESS_KEY": "env-secret"})
    return env


def run_exec_user(config, env):
    """Run the kubeconfig's exec credential command as a Kubernetes client does (its env entries
    over the client's own environment)."""
    user = config["users"][0]["user"]["exec"]
    env = dict(env, **{e["name"]: e["value"] for e in user.get("env", [])})
    return subprocess.run([user["command"]] + user["args"], env=env, capture_output=True, text=True, check=False)


def signing_key(done):
    assert done.returncode == 0, done.stderr
    credential = json.loads(done.stdout)
    assert credential["kind"] == "ExecCredential"
    body = credential["status"]["token"][len("k8s-aws-v1."):]
    url = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["X-Amz-Credential"].split("/")[0]


def test_the_exec_user_signs_its_tokens_with_the_profile_not_the_environments_keys(aws_env):
    config = eks_kubeconfig.build_kubeconfig(CLUSTER, "us-west-2", profile="ops")
    assert signing_key(run_exec_user(config, aws_env)) == PROFILE_KEY
    # without a profile, the environment's credentials
    config = eks_kubeconfig.build_kubeconfig(CLUSTER, "us-west-2")
    assert "--profile" not in config["users"][0]["user"]["exec"]["args"]
    assert signing_key(run_exec_user(config, aws_env)) == ENV_KEY


def test_the_exec_user_names_an_undefined_profile(aws_env):
    done = run_exec_user(eks_kubeconfig.build_kubeconfig(CLUSTER, "us-west-2", profile="prod-account"), aws_env)
    assert done.returncode != 0 and not done.stdout
    assert "eks_token: AWS profile 'prod-account' is not defined in the AWS config or credentials file" in done.stderr
    assert "profiles found: dev, ops." in done.stderr
    assert "Traceback" not in done.stderr
    # the same from AWS_PROFILE, without --profile
    done = run_exec_user(eks_kubeconfig.build_kubeconfig(CLUSTER, "us-west-2"), dict(aws_env, AWS_PROFILE="gone"))
    assert "AWS profile 'gone' (from AWS_PROFILE) is not defined" in done.stderr


def test_the_exec_user_says_when_there_are_no_credentials(aws_env):
    env = {k: v for k, v in aws_env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    done = run_exec_user(eks_kubeconfig.build_kubeconfig(CLUSTER, "us-west-2", profile="dev"), env)
    assert done.returncode != 0
    assert "no AWS credentials to make an EKS token for cluster 'prod' with AWS profile 'dev'" in done.stderr


class RecordingSession:
    """Stands in for boto3's Session in the lookup: records the profile, answers DescribeCluster."""
    profiles = []

    def __init__(self, profile_name=None, region_name=None):
        RecordingSession.profiles.append(profile_name)
        self.events = None

    def client(self, service, endpoint_url=None, region_name=None, config=None, **_credentials):
        assert service == "eks" and region_name == "us-west-2"
        return self

    @staticmethod
    def describe_cluster(name):
        return {"cluster": dict(CLUSTER, name=name)}


def lookup(**options):
    """The lookup with its options set as Ansible would set them (amazon.aws's fragments)."""
    plugin = eks_kubeconfig.LookupModule()
    settings = {"region": "us-west-2", "profile": None, "endpoint_url": None, "access_key": None,
                "secret_key": None, "session_token": None}
    settings.update(options)
    plugin.set_options = lambda var_options=None, direct=None: None
    plugin.get_option = settings.get
    plugin.get_options = lambda: dict(settings)
    plugin.set_option = settings.__setitem__
    return plugin


def test_a_profile_wins_over_the_environments_keys(monkeypatch):
    RecordingSession.profiles = []
    monkeypatch.setattr(eks_kubeconfig.boto3.session, "Session", RecordingSession)
    monkeypatch.setattr(eks_kubeconfig.botocore.session.Session, "available_profiles",
                        property(lambda _self: ["ops"]))
    plugin = lookup(profile="ops", access_key="AKIAENV", secret_key="from-env")  # as AWS_* would set them
    options = plugin.get_options

    def refuse_both():  # what amazon.aws does when it reads the region or the connection info
        found = options()
        assert not (found["profile"] and found["access_key"]), "a profile and keys reached amazon.aws"
        return found
    plugin.get_options = refuse_both
    config = plugin.run(["prod"])[0]
    assert RecordingSession.profiles == ["ops"]
    assert not plugin.get_option("access_key") and "AKIAENV" not in repr(config)


# Ansible's own plugin loader and option resolution, in a process of its own (the loader must be
# set up before the collection is imported): boto3's Session records the credentials it is given.
REAL_OPTIONS = """
import json, sys
import boto3.session
from ansible.plugins.loader import init_plugin_loader, lookup_loader
init_plugin_loader([sys.argv[1]])
seen = []
class Session:
    def __init__(self, **kwargs):
        seen.append({k: v for k, v in kwargs.items() if k in ("profile_name", "aws_access_key_id")})
    def client(self, *args, **kwargs):
        return self
    def describe_cluster(self, name):
        return {"cluster": {"name": name, "arn": "arn:aws:eks:us-west-2:1:cluster/" + name,
                            "endpoint": "https://x", "certificateAuthority": {"data": "Q0E="}}}
boto3.session.Session = Session
import botocore.session
botocore.session.Session.available_profiles = property(lambda _self: ["ops"])
plugin = lookup_loader.get("eksops.windows.eks_kubeconfig")
direct = json.loads(sys.argv[2])
config = plugin.run(["prod"], variables={}, **direct)[0]
print(json.dumps({"sessions": seen, "access_key": plugin.get_option("access_key"),
                  "args": config["users"][0]["user"]["exec"]["args"], "config": repr(config)}))
"""


@pytest.mark.parametrize("direct, profile_name, access_key", [
    ({"region": "us-west-2", "profile": "ops"}, "ops", ""),
    ({"region": "us-west-2"}, None, "AKIAENV"),  # the control: no profile, the environment's keys
])
def test_a_profile_wins_over_the_environments_keys_through_ansibles_options(direct, profile_name, access_key):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    env.update({"AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "from-env"})
    collections = os.path.join(os.path.dirname(eks_kubeconfig.__file__), *[".."] * 5)
    done = subprocess.run([sys.executable, "-c", REAL_OPTIONS, os.path.abspath(collections), json.dumps(direct)],
                          env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert [s.get("profile_name") for s in found["sessions"]] == [profile_name] * len(found["sessions"]), found
    assert found["access_key"] == access_key
    assert ("--profile" in found["args"]) == bool(profile_name)
    assert "AKIAENV" not in found["config"]


@pytest.mark.parametrize("profile, session_profile, args", [
    ("ops", "ops", ["--profile", "ops"]),
    ("", None, []),     # what a role passes for "no profile"
    (None, None, []),
])
def test_the_lookup_uses_one_profile_for_describe_cluster_and_the_exec_user(monkeypatch, profile, session_profile, args):
    RecordingSession.profiles = []
    monkeypatch.setattr(eks_kubeconfig.boto3.session, "Session", RecordingSession)
    monkeypatch.setattr(eks_kubeconfig.botocore.session.Session, "available_profiles",
                        property(lambda _self: ["ops"]))
    config = lookup(profile=profile).run(["prod"])[0]
    assert RecordingSession.profiles == [session_profile]
    assert config["users"][0]["user"]["exec"]["args"][1:] == ["--cluster-name", "prod", "--region", "us-west-2"] + args


def test_the_lookup_names_an_undefined_profile(aws_env, monkeypatch):
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, aws_env[name])
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with pytest.raises(AnsibleLookupError) as error:
        lookup(profile="prod-account").run(["prod"])
    assert str(error.value) == (
        "eks_kubeconfig: AWS profile 'prod-account' is not defined in the AWS config or credentials file "
        "(~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE); "
        "profiles found: dev, ops.")


# --- retries: the collection's one policy (eks_access.RETRY) on DescribeCluster ---------------------
DESCRIBED = {"cluster": dict(CLUSTER, name="prod", arn="arn:aws:eks:us-west-2:123456789012:cluster/prod",
                             certificateAuthority={"data": "Q0E="})}


@pytest.fixture(name="stubbed")
def stubbed_eks(monkeypatch):
    """The lookup's EKS client is a real botocore client (no retries of its own: every attempt
    is one answer of the Stubber), and the backoff's sleeps are recorded, not slept."""
    import boto3
    import botocore.config
    from ansible_collections.amazon.aws.plugins.module_utils import cloud
    from botocore.stub import Stubber

    client = boto3.session.Session(aws_access_key_id="AKIAUNIT", aws_secret_access_key="secret").client(
        "eks", region_name="us-west-2",
        config=botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    stubber = Stubber(client)
    slept = []
    monkeypatch.setattr(cloud.time, "sleep", slept.append)

    class Session:
        def __init__(self, profile_name=None, region_name=None):
            self.events = None

        def client(self, service, endpoint_url=None, region_name=None, config=None, **_credentials):
            return client

    monkeypatch.setattr(eks_kubeconfig.boto3.session, "Session", Session)
    with stubber:
        yield stubber, slept


@pytest.mark.parametrize("codes", [
    [("ThrottlingException", 400)],
    [("ServerException", 500), ("ServiceUnavailableException", 503)],
])
def test_the_lookup_retries_eks_throttling_and_server_errors(stubbed, codes):
    stubber, slept = stubbed
    for code, status in codes:
        stubber.add_client_error("describe_cluster", code, "slow down", status, expected_params={"name": "prod"})
    stubber.add_response("describe_cluster", DESCRIBED, {"name": "prod"})
    config = lookup().run(["prod"])[0]
    stubber.assert_no_pending_responses()
    assert config["clusters"][0]["cluster"]["server"] == "https://prod.example"
    assert len(slept) == len(codes)


def test_the_lookup_names_cluster_region_and_action_when_the_retries_run_out(stubbed):
    stubber, slept = stubbed
    for _attempt in range(8):  # RETRY (retries=8): 8 attempts in all, 7 sleeps between them
        stubber.add_client_error("describe_cluster", "ThrottlingException", "Rate exceeded", 400)
    with pytest.raises(AnsibleLookupError) as error:
        lookup().run(["prod"])
    stubber.assert_no_pending_responses()
    assert len(slept) == 7
    assert str(error.value).startswith(
        "eks_kubeconfig: eks:DescribeCluster for cluster 'prod' in us-west-2 failed (ThrottlingException: "
        "Rate exceeded). AWS still answered so after the retries")


@pytest.mark.parametrize("code, status, message", [
    ("ResourceNotFoundException", 404,
     "eks_kubeconfig: EKS cluster 'prod' was not found in region us-west-2 (eks:DescribeCluster). "
     "Check the cluster name and the region (region= or AWS_REGION)."),
    ("AccessDeniedException", 403,
     "eks_kubeconfig: eks:DescribeCluster for cluster 'prod' in us-west-2 failed (AccessDeniedException: "
     "no). Grant eks:DescribeCluster on the cluster to these credentials, or use another profile."),
])
def test_the_lookup_does_not_retry_what_another_try_cannot_change(stubbed, code, status, message):
    stubber, slept = stubbed
    stubber.add_client_error("describe_cluster", code, "no", status)
    with pytest.raises(AnsibleLookupError) as error:
        lookup().run(["prod"])
    assert str(error.value) == message
    assert slept == []


@pytest.mark.parametrize("option", ["access_key", "secret_key", "session_token", "aws_access_key_id"])
def test_keys_given_to_the_lookup_are_refused_with_what_to_do(option):
    with pytest.raises(AnsibleLookupError) as error:
        lookup().run(["prod"], **{option: "AKIAEXAMPLE"})
    assert option in str(error.value) and "AWS_ACCESS_KEY_ID" in str(error.value)
    assert "AKIAEXAMPLE" not in str(error.value)


def test_the_options_are_amazon_aws_s():
    import yaml
    doc = yaml.safe_load(eks_kubeconfig.DOCUMENTATION)
    assert doc["extends_documentation_fragment"] == ["amazon.aws.common.plugins", "amazon.aws.region.plugins"]
    assert sorted(doc["options"]) == ["_terms"]  # region, profile, endpoint_url, keys: the fragments'
