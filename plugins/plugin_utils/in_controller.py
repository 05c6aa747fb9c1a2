# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the collection's modules inside Ansible's own worker process when the host is the
controller, instead of in a new Python process per host.

Every host of an eksops.windows inventory is a cluster reached from the controller
(``ansible_connection=local``). Ansible runs a module there by writing an AnsiballZ payload and
starting a new Python for it, which imports ansible, boto3 and the collection again for every
host and every task: about 0.7 CPU-second per host before the module's first request, twice the
work the module itself does (docs/costs.md). Here the action plugin of each module imports the
module and what it needs once, in the controller's main process (the strategy loads action
plugins there before it forks a worker per host), and the worker runs the module's main() with
its arguments. The module's own code runs unchanged: the same argument parsing, check mode,
diff, no_log filtering and result, read back by the same code that reads a module's output.

The worker falls back to the normal module process whenever running in the controller would
not be the same thing:

- the connection is not local (the module must run where the task says);
- the task uses become, or async;
- the host's ansible_python_interpreter names another Python than the controller's (that
  Python's packages are the ones the user chose);
- the controller's Python lacks boto3 or botocore;
- ansible-core is older than 2.19 (the argument interface used here was checked on 2.19+);
- the variable ``eksops_windows_in_controller`` is false.

Verbosity 3 (-vvv) shows which way each task ran.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import importlib
import importlib.util
import io
import json
import os
import shutil
import sys
import tempfile
import traceback

from ansible.module_utils import basic
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash

display = Display()

COLLECTION = "eksops.windows"
MODULES = ("eks_windows_info", "eks_windows_legacy", "eks_windows_prefix_delegation",
           "eks_windows_support", "eks_windows_workloads", "vpc_webhook_cert")
SWITCH = "eksops_windows_in_controller"
PROFILE = "legacy"  # the serialization profile of modules that declare none (all of ours)

try:
    from ansible.module_utils.common.json import Direction, get_module_encoder
    HAS_PROFILES = hasattr(basic, "_ANSIBLE_PROFILE")
except ImportError:  # ansible-core < 2.19
    HAS_PROFILES = False

HAS_AWS_SDK = all(importlib.util.find_spec(name) is not None for name in ("boto3", "botocore"))


def import_module(name):
    """The module `name` of the collection, imported (with boto3, botocore and the collection's
    module_utils), or None when it cannot be: then the task runs the normal way, which reports
    what is missing as a module does. Called when the action plugin is loaded, which Ansible
    does in its main process before it forks the workers: they inherit what is imported."""
    if not HAS_PROFILES or not HAS_AWS_SDK:
        return None
    try:
        module = importlib.import_module("ansible_collections.eksops.windows.plugins.modules.%s" % name)
        _warm_once()
        return module
    except Exception:  # pylint: disable=broad-except
        display.vvvv("%s: could not import module %s in the controller: %s"
                     % (COLLECTION, name, traceback.format_exc()))
        return None


_WARMED = []


def _warm_once():
    """The AWS service models loaded once in the controller's process, before the workers are
    forked: each host's module then makes its clients from them (_eks_access.warm_aws_models)."""
    if not _WARMED:
        from ansible_collections.eksops.windows.plugins.module_utils import _eks_access  # pylint: disable=import-outside-toplevel
        _WARMED.append(_eks_access.warm_aws_models())


def _same_python(interpreter, controller_python):
    return os.path.abspath(os.path.expanduser(interpreter)) == os.path.abspath(controller_python)


def fallback_reason(module, connection, become, async_val, interpreter, switch,
                    controller_python=None):
    """Why a task must run as a normal module process, or None when it can run in the
    controller. `interpreter` is the host's templated ansible_python_interpreter (None when
    unset), `switch` the templated eksops_windows_in_controller (None when unset)."""
    controller_python = controller_python or sys.executable
    if switch is not None and not boolean(switch, strict=False):
        return "%s is false" % SWITCH
    if module is None:
        if not HAS_PROFILES:
            return "ansible-core is older than 2.19"
        if not HAS_AWS_SDK:
            return "the controller's Python (%s) has no boto3 or botocore" % controller_python
        return "the module could not be imported in the controller (see -vvvv)"
    if connection != "local":
        return "the connection is %s, not local" % connection
    if become:
        return "the task uses become"
    if async_val:
        return "the task is async"
    if interpreter and not str(interpreter).startswith("auto") \
            and not _same_python(str(interpreter), controller_python):
        return "ansible_python_interpreter is %s, not the controller's %s" % (interpreter, controller_python)
    return None


@contextlib.contextmanager
def _environment(extra):
    """os.environ with the task's `environment:` applied, restored afterwards."""
    saved = dict(os.environ)
    os.environ.update(dict((k, str(v)) for k, v in extra.items()))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_main(module, encoded_args):
    """Run module.main() with `encoded_args` as AnsiballZ would hand them over; returns
    (rc, stdout, stderr). A module always ends in exit_json or fail_json (SystemExit); an
    exception that escapes it is reported as a failed result, as AnsiballZ reports one."""
    stdout, stderr = io.StringIO(), io.StringIO()
    rc = 0
    basic._ANSIBLE_ARGS = encoded_args
    basic._ANSIBLE_PROFILE = PROFILE
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                module.main()
                raise RuntimeError("module %s returned without exit_json or fail_json" % module.__name__)
            except SystemExit as done:
                rc = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            except Exception as e:  # pylint: disable=broad-except
                rc = 1
                name = module.__name__.rsplit(".", 1)[-1]
                stdout.write(json.dumps({
                    "failed": True, "exception": traceback.format_exc(),
                    "msg": "The module %s raised %s: %s" % (name, type(e).__name__, e)}))
    finally:
        basic._ANSIBLE_ARGS = None
        basic._ANSIBLE_PROFILE = None
    return rc, stdout.getvalue(), stderr.getvalue()


class ModuleInController(ActionBase):
    """The action plugin of each of the collection's modules (see the module docstring)."""

    MODULE = None  # the imported module, set by each action plugin file
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ModuleInController, self).run(tmp, task_vars)
        del tmp
        reason = fallback_reason(
            self.MODULE, self._connection.transport, self._play_context.become,
            self._task.async_val, self._templated(task_vars, "ansible_python_interpreter"),
            self._templated(task_vars, SWITCH))
        name = self._task.resolved_action or self._task.action
        if reason:
            display.vvv("%s: %s runs as a module process: %s" % (COLLECTION, name, reason),
                        host=self._play_context.remote_addr)
            wrap_async = self._task.async_val
            result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        display.vvv("%s: %s runs in the controller's worker process (%s)"
                    % (COLLECTION, name, sys.executable), host=self._play_context.remote_addr)
        return merge_hash(result, self._run_in_controller(name, task_vars))

    def _templated(self, task_vars, name):
        if name not in task_vars:
            return None
        return self._templar.template(task_vars[name])

    def _run_in_controller(self, name, task_vars):
        module_args = dict(self._task.args)
        self._update_module_args(name, module_args, task_vars)
        environment = {}
        self._compute_environment_string(environment)
        workdir = tempfile.mkdtemp(prefix="eksops-windows-")
        try:
            # the module's own temporary directory (the cluster CA file goes there), removed
            # here: a worker process ends without running atexit handlers
            module_args["_ansible_tmpdir"] = workdir
            encoder = get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)
            encoded = json.dumps({"ANSIBLE_MODULE_ARGS": module_args}, cls=encoder).encode()
            with _environment(environment):
                rc, stdout, stderr = run_main(self.MODULE, encoded)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        parsed = self._parse_returned_data(
            {"rc": rc, "stdout": stdout, "stdout_lines": stdout.splitlines(),
             "stderr": stderr, "stderr_lines": stderr.splitlines()}, PROFILE)
        if hasattr(parsed, "as_result_dict"):  # ansible-core 2.21: a UnifiedTaskResult
            parsed.remove_internal_keys()
            return parsed.as_result_dict(for_round_trip=True)
        from ansible.vars.clean import remove_internal_keys  # pylint: disable=import-outside-toplevel
        remove_internal_keys(parsed)
        return parsed


def action_plugin(name):
    """The ActionModule class of module `name`, with the module imported now (in the
    controller's main process, see import_module)."""
    return type("ActionModule", (ModuleInController,), {"MODULE": import_module(name)})
