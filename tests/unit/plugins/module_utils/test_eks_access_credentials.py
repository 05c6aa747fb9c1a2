"""The AWS identity of the collection's modules: a profile the task names wins over access keys
that only come from the environment (the roles pass the host's aws_profile), everything else
is amazon.aws's behaviour, and a profile that does not exist is named with the ones that do."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info
from ansible_collections.amazon.aws.plugins.module_utils.modules import aws_argument_spec

from ansible_collections.eksops.windows.plugins.module_utils import _eks_access as eks_access

ENV_KEY, ENV_SECRET = "AKIAENVIRONMENT00000", "env-secret"
PROFILE_KEY, PROFILE_SECRET = "AKIAPROFILEKEY000000", "profile-secret"


@pytest.fixture(name="aws_files")
def aws_files_fixture(tmp_path, monkeypatch):
    """An AWS config with profiles `ops` (static keys) and `dev`, and nothing else of this machine."""
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text("[profile ops]\nregion = eu-west-1\n\n[profile dev]\n")
    credentials.write_text("[ops]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                           "[dev]\naws_access_key_id = AKIADEV\naws_secret_access_key = dev\n"
                           % (PROFILE_KEY, PROFILE_SECRET))
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY",
                 "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


def module_args(**args):
    return patch_module_args(dict({"cluster_name": "prod", "region": "us-west-2"}, **args))


def module(**args):
    with module_args(**args):
        return eks_access.EksClusterModule(argument_spec={}, supports_check_mode=True)


def signing_key(mod):
    return mod.client("sts")._request_signer._credentials.access_key  # pylint: disable=protected-access


def test_the_credential_options_are_amazon_aws_s_without_environment_fallbacks():
    spec, variables = eks_access.credential_options()
    common = aws_argument_spec()
    for name in eks_access.PROFILE_OPTIONS:
        expected = dict(common[name])
        assert variables[name] == list(expected.pop("fallback")[1])
        assert spec[name] == expected
    assert variables["access_key"][0] == "AWS_ACCESS_KEY_ID"
    assert variables["profile"][0] == "AWS_PROFILE"


@pytest.mark.parametrize("params, environ, found", [
    # a profile the task names: the environment's keys are left out
    ({"profile": "ops"}, {"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S", "AWS_SESSION_TOKEN": "T"}, {}),
    # no profile in the task: the environment, as amazon.aws's fallbacks read it (first variable set)
    ({}, {"AWS_ACCESS_KEY": "old", "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_KEY": "S"},
     {"access_key": ("A", "AWS_ACCESS_KEY_ID"), "secret_key": ("S", "AWS_SECRET_KEY")}),
    # AWS_PROFILE and keys both from the environment: both, and amazon.aws refuses the pair as before
    ({}, {"AWS_PROFILE": "ops", "AWS_ACCESS_KEY_ID": "A"},
     {"profile": ("ops", "AWS_PROFILE"), "access_key": ("A", "AWS_ACCESS_KEY_ID")}),
    # what the task gives is never replaced; an empty profile is no profile
    ({"access_key": "given", "profile": ""}, {"AWS_ACCESS_KEY_ID": "A", "AWS_PROFILE": "ops"}, {}),
    ({"profile": None}, {"AWS_DEFAULT_PROFILE": "dev"}, {"profile": ("dev", "AWS_DEFAULT_PROFILE")}),
])
def test_credentials_from_environment(params, environ, found):
    _spec, variables = eks_access.credential_options()
    assert eks_access.credentials_from_environment(params, variables, environ) == found


def test_a_named_profile_wins_over_the_environments_access_keys(aws_files, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ENV_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    mod = module(profile="ops")
    _region, _endpoint, params = get_aws_connection_info(mod)
    assert params["profile_name"] == "ops"
    assert params["aws_access_key_id"] is None and params["aws_session_token"] is None
    assert signing_key(mod) == PROFILE_KEY
    # the alias amazon.aws documents works the same
    assert signing_key(module(aws_profile="ops")) == PROFILE_KEY


def test_without_a_profile_the_environment_is_used_as_amazon_aws_does(aws_files, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ENV_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    mod = module()
    assert (mod.params["access_key"], mod.params["secret_key"]) == (ENV_KEY, ENV_SECRET)
    # secrets from the environment stay secrets, as with amazon.aws's no_log fallbacks
    assert {ENV_SECRET, "env-token"} <= mod._module.no_log_values  # pylint: disable=protected-access
    assert signing_key(mod) == ENV_KEY
    # AWS_PROFILE alone: that profile
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_PROFILE", "ops")
    assert signing_key(module()) == PROFILE_KEY


def test_access_keys_in_the_task_and_a_profile_are_still_refused(aws_files, capsys):
    with module_args(profile="ops", access_key="AKIAGIVEN", secret_key="given"):
        mod = eks_access.EksClusterModule(argument_spec={}, supports_check_mode=True)
        with pytest.raises(SystemExit):
            mod.client("sts")
    assert "Passing both a profile and access tokens is not supported" in json.loads(capsys.readouterr().out)["msg"]


@pytest.mark.parametrize("args, env, source", [
    ({"profile": "prod-account"}, {}, ""),
    ({}, {"AWS_PROFILE": "prod-account"}, " (from AWS_PROFILE)"),
])
def test_an_undefined_profile_is_named_with_the_ones_there_are(aws_files, monkeypatch, capsys, args, env, source):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit):
        module(**args)
    msg = json.loads(capsys.readouterr().out)["msg"]
    assert msg.startswith("AWS profile 'prod-account'%s is not defined in the AWS config or credentials file "
                          "(~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE); "
                          "profiles found: dev, ops." % source), msg
    assert "the host's aws_profile" in msg and "<role>_aws_profile" in msg
