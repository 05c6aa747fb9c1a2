import os

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
