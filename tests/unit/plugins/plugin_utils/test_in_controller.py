"""plugin_utils/in_controller.py: when a module runs in the controller's worker process, and
that it runs there exactly as it runs in a module process (arguments, exit, failure, no_log)."""

import json
import os
import sys
import types

import pytest
from ansible.module_utils import basic
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.json import Direction, get_module_encoder

from ansible_collections.eksops.windows.plugins.plugin_utils import in_controller

MODULE = types.SimpleNamespace(__name__="m")  # any importable module object


def reason(**kwargs):
    args = dict(module=MODULE, connection="local", become=False, async_val=0, interpreter=None,
                switch=None, controller_python="/venv/bin/python")
    args.update(kwargs)
    return in_controller.fallback_reason(**args)


@pytest.mark.parametrize("interpreter", [None, "/venv/bin/python", "/venv/bin/../bin/python",
                                         "auto", "auto_silent", "auto_legacy"])
def test_local_hosts_on_the_controllers_python_run_in_the_controller(interpreter):
    assert reason(interpreter=interpreter) is None


@pytest.mark.parametrize("switch", [True, "true", "yes", "1"])
def test_the_switch_on_keeps_the_controller(switch):
    assert reason(switch=switch) is None


@pytest.mark.parametrize("kwargs, says", [
    ({"connection": "ssh"}, "the connection is ssh, not local"),
    ({"become": True}, "the task uses become"),
    ({"async_val": 30}, "the task is async"),
    ({"interpreter": "/usr/bin/python3"},
     "ansible_python_interpreter is /usr/bin/python3, not the controller's /venv/bin/python"),
    ({"switch": False}, "eksops_windows_in_controller is false"),
    ({"switch": "no"}, "eksops_windows_in_controller is false"),
    ({"switch": "false", "connection": "ssh"}, "eksops_windows_in_controller is false"),
])
def test_everything_else_runs_as_a_module_process(kwargs, says):
    assert reason(**kwargs) == says


def test_a_module_that_could_not_be_imported_runs_as_a_module_process(monkeypatch):
    assert reason(module=None) == "the module could not be imported in the controller (see -vvvv)"
    monkeypatch.setattr(in_controller, "HAS_AWS_SDK", False)
    assert reason(module=None) == "the controller's Python (/venv/bin/python) has no boto3 or botocore"
    monkeypatch.setattr(in_controller, "HAS_PROFILES", False)
    assert reason(module=None) == "ansible-core is older than 2.19"
    monkeypatch.setattr(in_controller, "HAS_PROFILES", True)
    assert in_controller.import_module("eks_windows_info") is None  # no SDK: not even tried


def encoded(args, check_mode=False):
    args = dict(args, _ansible_check_mode=check_mode, _ansible_module_name="m")
    encoder = get_module_encoder(in_controller.PROFILE, Direction.CONTROLLER_TO_MODULE)
    return json.dumps({"ANSIBLE_MODULE_ARGS": args}, cls=encoder).encode()


def module_with(main):
    return types.SimpleNamespace(__name__="ansible_collections.x.y.plugins.modules.m", main=main)


def test_a_module_gets_its_arguments_and_its_exit_is_its_result():
    def main():
        module = AnsibleModule({"name": {"type": "str"}, "token": {"type": "str", "no_log": True}},
                               supports_check_mode=True)
        module.exit_json(changed=not module.check_mode, name=module.params["name"],
                         echoed="token is %s" % module.params["token"])

    rc, out, _err = in_controller.run_main(module_with(main), encoded({"name": "c1", "token": "s3cr3t"}))
    result = json.loads(out)
    assert rc == 0
    assert (result["changed"], result["name"]) == (True, "c1")
    assert "s3cr3t" not in out  # no_log values are masked by the module itself, as in a process
    assert basic._ANSIBLE_ARGS is None and basic._ANSIBLE_PROFILE is None
    rc, out, _err = in_controller.run_main(module_with(main), encoded({"name": "c1"}, check_mode=True))
    assert json.loads(out)["changed"] is False


def test_fail_json_and_bad_options_fail_with_the_modules_message():
    def main():
        module = AnsibleModule({"name": {"type": "str", "required": True}})
        module.fail_json(msg="no cluster %s" % module.params["name"])

    rc, out, _err = in_controller.run_main(module_with(main), encoded({"name": "c1"}))
    assert rc == 1 and json.loads(out)["msg"] == "no cluster c1"
    rc, out, _err = in_controller.run_main(module_with(main), encoded({}))
    assert rc == 1 and json.loads(out)["msg"] == "missing required arguments: name"


def test_an_exception_or_a_missing_exit_is_a_failed_result_not_a_dead_worker():
    def boom():
        raise KeyError("nodes")

    rc, out, _err = in_controller.run_main(module_with(boom), encoded({}))
    result = json.loads(out)
    assert rc == 1 and result["failed"] is True
    assert result["msg"] == "The module m raised KeyError: 'nodes'"
    assert "Traceback" in result["exception"]
    rc, out, _err = in_controller.run_main(module_with(lambda: None), encoded({}))
    assert rc == 1 and "returned without exit_json or fail_json" in json.loads(out)["msg"]
    assert basic._ANSIBLE_ARGS is None


def test_stdout_and_stderr_of_the_module_are_captured_not_printed(capsys):
    def main():
        sys.stderr.write("botocore says hello\n")
        AnsibleModule({}).exit_json(changed=False)

    rc, out, err = in_controller.run_main(module_with(main), encoded({}))
    assert rc == 0 and json.loads(out)["changed"] is False and err == "botocore says hello\n"
    assert capsys.readouterr() == ("", "")


def test_the_collections_modules_are_imported_for_their_action_plugins():
    for name in in_controller.MODULES:
        action = in_controller.action_plugin(name)
        assert action.MODULE.__name__ == "ansible_collections.eksops.windows.plugins.modules." + name
        assert callable(action.MODULE.main)


def test_a_real_module_parses_its_options_in_the_controller():
    module = in_controller.import_module("eks_windows_support")
    rc, out, _err = in_controller.run_main(module, encoded({"cluster_name": "c", "bogus": 1}))
    assert rc == 1
    assert json.loads(out)["msg"].startswith(
        "Unsupported parameters for (m) module: bogus. Supported parameters include:")


def test_environment_is_applied_and_restored(monkeypatch):
    monkeypatch.setenv("EKSOPS_KEEP", "1")
    monkeypatch.delenv("EKSOPS_TASK", raising=False)
    with in_controller._environment({"EKSOPS_TASK": 5}):
        assert os.environ["EKSOPS_TASK"] == "5" and os.environ["EKSOPS_KEEP"] == "1"
        os.environ["EKSOPS_LEAK"] = "x"
    assert "EKSOPS_TASK" not in os.environ and "EKSOPS_LEAK" not in os.environ
    assert os.environ["EKSOPS_KEEP"] == "1"
