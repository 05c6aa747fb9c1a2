"""The AWX survey specs in docs/awx/surveys/ stay true to the playbooks and the roles' argument
specs: one survey per playbook, valid for AWX's survey API, every question a variable the
playbook or one of its roles takes, of a matching type and default, and every role option that
is not per host asked."""

import glob
import json
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOKS = os.path.join(ROOT, "playbooks")
SURVEYS = os.path.join(ROOT, "docs", "awx", "surveys")
NAMESPACE = "eksops.windows."
# AWX's question types and the Python type a default of that type must have.
QUESTION_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str,
                  "multiselect": str, "integer": int, "float": (int, float)}
# Role options that come from the host (one host per cluster), never from a survey.
PER_HOST_SUFFIXES = ("_cluster_name", "_region")
TARGET = "eksops_target"
HOSTS = "{{ eksops_target | default('all', true) }}"


def names(directory, ext):
    return sorted(os.path.basename(p)[:-len(ext)] for p in glob.glob(os.path.join(directory, "*" + ext)))


PLAYBOOK_NAMES = names(PLAYBOOKS, ".yml")


def load_playbook(name):
    with open(os.path.join(PLAYBOOKS, name + ".yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_survey(name):
    with open(os.path.join(SURVEYS, name + ".json"), encoding="utf-8") as handle:
        return json.load(handle)


def roles_of(plays):
    """FQCNs of the roles a playbook runs, from `roles:` and include_role/import_role tasks."""
    found = []
    for play in plays:
        for entry in play.get("roles", []):
            found.append(entry if isinstance(entry, str) else entry.get("role") or entry["name"])
        for task in play.get("pre_tasks", []) + play.get("tasks", []) + play.get("post_tasks", []):
            for action in ("ansible.builtin.include_role", "ansible.builtin.import_role",
                           "include_role", "import_role"):
                if action in task:
                    found.append(task[action]["name"])
    return found


def role_options(fqcn):
    assert fqcn.startswith(NAMESPACE), f"{fqcn}: only this collection's roles have surveys"
    path = os.path.join(ROOT, "roles", fqcn[len(NAMESPACE):], "meta", "argument_specs.yml")
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"].get("options", {})


def playbook_options(name):
    options = {}
    for fqcn in roles_of(load_playbook(name)):
        options.update(role_options(fqcn))
    return options


def expected_question(option):
    """(type, choices, default) a survey question for a role option must have. AWX surveys have
    no boolean type: booleans are a true/false choice whose answer reaches the play as a string,
    which the modules' bool options and the roles' argument validation accept."""
    kind = option.get("type", "str")
    if kind == "bool":
        return "multiplechoice", ["true", "false"], "true" if option.get("default") else "false"
    if kind == "int":
        return "integer", None, option.get("default")
    if kind == "str" and option.get("choices"):
        return "multiplechoice", [str(c) for c in option["choices"]], option.get("default")
    if kind == "str":
        return "text", None, option.get("default", "")
    raise AssertionError(f"no survey question type for an option of type {kind}: add one here")


def test_every_playbook_has_a_survey_and_every_survey_a_playbook():
    assert PLAYBOOK_NAMES
    assert names(SURVEYS, ".json") == PLAYBOOK_NAMES


@pytest.mark.parametrize("name", PLAYBOOK_NAMES)
def test_survey_is_what_the_awx_survey_api_accepts(name):
    survey = load_survey(name)
    assert isinstance(survey.get("name"), str) and isinstance(survey.get("description"), str)
    assert isinstance(survey.get("spec"), list) and survey["spec"], "spec must list questions"
    variables = [q.get("variable") for q in survey["spec"]]
    assert len(set(variables)) == len(variables), f"duplicated variables: {variables}"
    for question in survey["spec"]:
        where = f"{name}: {question.get('variable')}"
        for field in ("type", "question_name", "variable"):
            assert isinstance(question.get(field), str) and question[field], f"{where}: {field}"
        assert isinstance(question.get("required"), bool), f"{where}: required must be a boolean"
        assert question["type"] in QUESTION_TYPES, f"{where}: unknown type {question['type']}"
        if question.get("default", "") != "":
            assert isinstance(question["default"], QUESTION_TYPES[question["type"]]), \
                f"{where}: default {question['default']!r} does not fit type {question['type']}"
        for limit in ("min", "max"):
            assert question.get(limit) is None or isinstance(question[limit], int), f"{where}: {limit}"
        if question["type"] in ("multiplechoice", "multiselect"):
            assert question.get("choices"), f"{where}: a choice question needs choices"
            assert question.get("default") in question["choices"], f"{where}: default not a choice"
        if question["type"] == "integer" and question.get("default", "") != "":
            assert question.get("min", question["default"]) <= question["default"] <= \
                question.get("max", question["default"]), f"{where}: default outside min/max"


@pytest.mark.parametrize("name", PLAYBOOK_NAMES)
def test_every_play_takes_its_hosts_from_a_survey_answer_that_may_be_empty(name):
    """AWX sends "" (or null) for an optional text question left blank: that must mean every
    host, not a play with no hosts."""
    for play in load_playbook(name):
        assert play["hosts"] == HOSTS, f"{name}: hosts must be {HOSTS}"
    assert load_survey(name)["spec"][0]["variable"] == TARGET


@pytest.mark.parametrize("name", PLAYBOOK_NAMES)
def test_every_question_is_an_option_of_the_playbook_with_its_type_and_default(name):
    options = playbook_options(name)
    for question in load_survey(name)["spec"]:
        variable = question["variable"]
        if variable == TARGET:
            assert question["type"] == "text" and question["required"] is False
            continue
        assert variable in options, (
            f"{name}: the survey asks {variable}, which no role of the playbook takes "
            f"(options: {sorted(options)}); fix docs/awx/surveys/{name}.json")
        kind, choices, default = expected_question(options[variable])
        assert question["type"] == kind, f"{name}: {variable} should be a {kind} question"
        if choices is not None:
            assert question["choices"] == choices, f"{name}: {variable} choices"
        assert question["default"] == default, (
            f"{name}: {variable} defaults to {question['default']!r} in the survey and "
            f"{default!r} in the role")


@pytest.mark.parametrize("name", PLAYBOOK_NAMES)
def test_every_option_that_is_not_per_host_is_asked(name):
    asked = {q["variable"] for q in load_survey(name)["spec"]}
    missing = sorted(o for o in playbook_options(name)
                     if not o.endswith(PER_HOST_SUFFIXES) and o not in asked)
    assert not missing, (f"{name}: the role options {missing} have no question in "
                         f"docs/awx/surveys/{name}.json (and no row in docs/awx.md)")


def test_the_awx_guide_documents_every_question():
    with open(os.path.join(ROOT, "docs", "awx.md"), encoding="utf-8") as handle:
        guide = handle.read()
    for name in PLAYBOOK_NAMES:
        assert f"docs/awx/surveys/{name}.json" in guide, name
        for question in load_survey(name)["spec"]:
            assert f"`{question['variable']}`" in guide, f"{name}: {question['variable']}"
