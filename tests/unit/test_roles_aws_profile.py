"""Every role and playbook hands the host's AWS profile to every call of the collection's modules
and of the eks_kubeconfig lookup, and every role that includes another passes its own on: a
task that forgets it reaches its cluster with the environment's credentials, which in a
multi-account inventory is the wrong account (tests/integration/test_inventory.py runs them)."""

import glob
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMESPACE = "eksops.windows."
ROLES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "roles", "*")))
PLAYBOOKS = sorted(glob.glob(os.path.join(ROOT, "playbooks", "*.yml")))
INCLUDES = ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role")


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def our_modules():
    return {NAMESPACE + m for m in load(os.path.join(ROOT, "meta", "runtime.yml"))["action_groups"]["eks_windows"]}


GROUP = "group/eksops.windows.eks_windows"


def tasks_of(entries, defaults=None):
    """Every task of a task list, blocks opened; each task gets the module_defaults of the
    collection's action group that its enclosing blocks set, under the key `_group_defaults`."""
    for task in entries or []:
        inherited = dict(defaults or {})
        inherited.update((task.get("module_defaults") or {}).get(GROUP) or {})
        yield dict(task, _group_defaults=inherited)
        for key in ("block", "rescue", "always"):
            yield from tasks_of(task.get(key), inherited)


def role_tasks(role):
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", role, "tasks", "*.yml"))):
        for task in tasks_of(load(path)):
            yield os.path.relpath(path, ROOT), task


def module_calls(tasks):
    modules = our_modules()
    for where, task in tasks:
        for action in modules & set(task):
            args = dict(task.get("_group_defaults") or {})
            args.update(task[action] or {})
            yield where, task["name"], args


def test_the_action_group_is_what_this_test_knows():
    assert our_modules() == {NAMESPACE + m for m in (
        "eks_windows_doctor", "eks_windows_info", "eks_windows_legacy", "eks_windows_prefix_delegation",
        "eks_windows_support", "eks_windows_workloads", "vpc_webhook_cert")}


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_the_profile_option_defaulting_to_the_hosts(role):
    spec = load(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml"))
    option = spec["argument_specs"]["main"]["options"][role + "_aws_profile"]
    assert option["type"] == "str"
    assert "default" not in option  # computed from the host in defaults/main.yml
    assert "C(aws_profile)" in " ".join(option["description"])
    defaults = load(os.path.join(ROOT, "roles", role, "defaults", "main.yml"))
    assert defaults[role + "_aws_profile"] == "{{ aws_profile | default('') }}"


@pytest.mark.parametrize("role", ROLES)
def test_every_module_call_of_a_role_passes_the_roles_profile(role):
    calls = list(module_calls(role_tasks(role)))
    for where, name, args in calls:
        assert args.get("profile") == "{{ %s_aws_profile | default(omit, true) }}" % role, (
            f"{where}: task '{name}' must pass profile: \"{{{{ {role}_aws_profile | default(omit, true) }}}}\"")


@pytest.mark.parametrize("role", ROLES)
def test_every_included_role_gets_the_profile(role):
    for where, task in role_tasks(role):
        for action in set(INCLUDES) & set(task):
            included = task[action]["name"][len(NAMESPACE):]
            assert (task.get("vars") or {}).get(included + "_aws_profile") == "{{ %s_aws_profile }}" % role, (
                f"{where}: task '{task['name']}' includes {included} without passing "
                f"{included}_aws_profile: \"{{{{ {role}_aws_profile }}}}\"")


def test_every_eks_kubeconfig_lookup_of_a_role_passes_the_profile():
    found = 0
    for path in glob.glob(os.path.join(ROOT, "roles", "*", "tasks", "*.yml")):
        role = os.path.relpath(path, os.path.join(ROOT, "roles")).split(os.sep)[0]
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        for call in re.findall(r"lookup\('eksops\.windows\.eks_kubeconfig',[^)]*\)", text):
            found += 1
            assert re.search(r"\bprofile=%s_aws_profile\b" % role, call), f"{path}: {call}"
    assert found, "the windows_sample role builds its kubeconfig with the lookup"


@pytest.mark.parametrize("path", PLAYBOOKS, ids=os.path.basename)
def test_every_module_call_of_a_playbook_passes_the_hosts_profile(path):
    tasks = []
    for play in load(path):
        for key in ("pre_tasks", "tasks", "post_tasks", "handlers"):
            tasks.extend((os.path.relpath(path, ROOT), t) for t in tasks_of(play.get(key)))
    for where, name, args in module_calls(tasks):
        assert args.get("profile") == "{{ aws_profile | default(omit, true) }}", (
            f"{where}: task '{name}' must pass profile: \"{{{{ aws_profile | default(omit, true) }}}}\"")
