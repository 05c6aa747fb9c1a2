"""The AWS service models are loaded once per process: every boto3 session of the collection
shares one botocore loader per data path, and the controller loads the models of the services
the steps call before it forks a worker per host (warm_aws_models, from the action plugins)."""

import botocore.exceptions
import botocore.loaders
import pytest

from ansible_collections.eksops.windows.plugins.module_utils import _eks_access as eks_access
from ansible_collections.eksops.windows.plugins.plugin_utils import in_controller


@pytest.fixture(autouse=True)
def fresh_loaders(monkeypatch, tmp_path):
    monkeypatch.setattr(eks_access, "_LOADERS", {})
    config = tmp_path / "config"
    config.write_text("[profile ops]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_DATA_PATH"):
        monkeypatch.delenv(name, raising=False)


def loader_of(session):
    return session._session.get_component("data_loader")  # pylint: disable=protected-access


def test_sessions_share_one_loader_whose_search_paths_do_not_grow():
    first, second, third = (eks_access.aws_session() for _session in range(3))
    assert loader_of(first) is loader_of(second) is loader_of(third)
    paths = loader_of(third).search_paths
    assert len(paths) == len(set(paths))
    assert any(p.endswith("boto3/data") for p in paths)  # boto3's own data, as boto3 sets it


def test_another_data_path_gets_a_loader_of_its_own(monkeypatch, tmp_path):
    default = loader_of(eks_access.aws_session())
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    custom = loader_of(eks_access.aws_session())
    assert custom is not default
    assert str(tmp_path) in custom.search_paths and str(tmp_path) not in default.search_paths


def test_a_profile_is_the_sessions_profile_and_a_missing_one_fails_as_boto3_fails():
    assert eks_access.aws_session("ops").region_name == "eu-west-1"
    with pytest.raises(botocore.exceptions.ProfileNotFound):
        eks_access.aws_session("nope")


def test_after_warming_a_new_sessions_clients_read_no_model_file(monkeypatch):
    assert eks_access.warm_aws_models() is True

    def no_file(*_args, **_kwargs):
        raise AssertionError("a model file was read again")

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", no_file)
    session = eks_access.aws_session()
    for service in eks_access.AWS_SERVICES:
        client = session.client(service, region_name="us-west-2", aws_access_key_id="a",
                                aws_secret_access_key="b")
        assert client.meta.service_model.service_name == service


def test_without_warming_a_new_session_reads_the_model_files(monkeypatch):
    read = []
    original = botocore.loaders.JSONFileLoader.load_file
    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file",
                        lambda self, path: read.append(path) or original(self, path))
    eks_access.aws_session().client("eks", region_name="us-west-2", aws_access_key_id="a",
                                    aws_secret_access_key="b")
    assert any("/eks/" in path for path in read)


def test_warming_with_a_profile_that_does_not_exist_is_no_error(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "nope")
    assert eks_access.warm_aws_models() is False


def test_loading_an_action_plugins_module_warms_the_models_once(monkeypatch):
    calls = []
    monkeypatch.setattr(in_controller, "_WARMED", [])
    monkeypatch.setattr(eks_access, "warm_aws_models", lambda: calls.append(1) or True)
    for name in ("eks_windows_info", "eks_windows_support"):
        assert in_controller.import_module(name) is not None
    assert calls == [1]
