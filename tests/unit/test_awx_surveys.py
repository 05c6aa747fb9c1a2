"""The AWX survey specs in docs/awx/surveys/ stay true to the playbooks and the roles' argument
specs: one survey per playbook, valid for AWX's survey API, every question a variable the
playbook or one of its roles takes, of a matching type and default, and every role option that
is not per host and not pinned by the playbook asked."""

import glob
import json
import os

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOKS = os.path.join(ROOT, "playbooks")
SURVEYS = os.path.join(ROOT, "docs", "awx", "surveys")
NAMESPACE = "eksops.windows."
# AWX's question types and the Python type a default of that type must have.
QUESTION_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str,
                  "multiselect": str, "integer": int, "float": (int, float)}
# Role options that come from the host (one host per cluster), never from a survey: a survey
# answer is an extra variable, the same for every host, and would override each host's own value.
# That holds for the AWS profile too: the eks_clusters inventory plugin gives each host the profile
# that listed it (clusters of several accounts have different ones), and in AWX the credentials
# come from the job template's AWS credential, not from a profile typed in at launch.
# {suffix: the host variable the role's default reads}
PER_HOST_SUFFIXES = ("_cluster_name", "_region", "_aws_profile")
PER_HOST_VARIABLES = {"_cluster_name": "eks_cluster_name", "_region": "aws_region",
                      "_aws_profile": "aws_profile"}
TARGET = "eksops_target"
# Options that do nothing once the playbook pins another option to a value: (option, value).
# (None today: enable_force, once tied to the removed enable_preflight, is pinned by the playbooks that must not force.)
UNUSED_WHEN_PINNED = {}
# The default of a role option that has none in its argument spec: the role computes it at run
# time (roles/<role>/defaults/main.yml), and a blank survey answer ("") would replace it.
COMPUTED = object()
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


def pinned_vars(plays):
    """Role variables the playbook sets itself (include_role/import_role `vars:`, role params):
    a survey answer is an extra var and would override the pin, so they are never asked."""
    pinned = {}
    for play in plays:
        for entry in play.get("roles", []):
            if isinstance(entry, dict):
                pinned.update(entry.get("vars") or {})
                pinned.update({k: v for k, v in entry.items() if k not in ("role", "name", "vars", "when", "tags")})
        for task in play.get("pre_tasks", []) + play.get("tasks", []) + play.get("post_tasks", []):
            if any(action in task for action in ("ansible.builtin.include_role", "ansible.builtin.import_role",
                                                 "include_role", "import_role")):
                pinned.update(task.get("vars") or {})
    return pinned


def not_asked(name):
    """The options of playbook `name` its survey must not ask, each with why."""
    pinned = pinned_vars(load_playbook(name))
    reasons = {option: f"the playbook pins it to {value!r}" for option, value in pinned.items()}
    for option, (gate, value) in UNUSED_WHEN_PINNED.items():
        if gate in pinned and pinned[gate] == value:
            reasons[option] = f"unused once the playbook pins {gate} to {value!r}"
    return reasons


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
    which the modules' bool options and the roles' argument validation accept. A list with choices
    is a multiselect (AWX sends a list; the default is the choices one per line); a list without
    choices is a text question answered as a comma-separated string, which Ansible's list type
    splits."""
    kind = option.get("type", "str")
    if kind == "bool":
        return "multiplechoice", ["true", "false"], "true" if option.get("default") else "false"
    if kind == "int":
        return "integer", None, option.get("default")
    if kind == "str" and option.get("choices"):
        return "multiplechoice", [str(c) for c in option["choices"]], option.get("default")
    if kind == "str":
        return "text", None, option.get("default", COMPUTED)
    if kind == "list" and option.get("elements", "str") == "str":
        default = [str(d) for d in option.get("default") or []]
        if option.get("choices"):
            return "multiselect", [str(c) for c in option["choices"]], "\n".join(default)
        return "text", None, ",".join(default)
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
        if question["type"] == "multiplechoice":
            assert question.get("choices"), f"{where}: a choice question needs choices"
            assert question.get("default") in question["choices"], f"{where}: default not a choice"
        if question["type"] == "multiselect":
            # AWX: the default is the chosen answers, one per line
            assert question.get("choices"), f"{where}: a choice question needs choices"
            assert all(d in question["choices"] for d in question.get("default", "").splitlines()), \
                f"{where}: default not made of choices"
        if question["type"] == "integer" and question.get("default", "") != "":
            assert question.get("min", question["default"]) <= question["default"] <= \
                question.get("max", question["default"]), f"{where}: default outside min/max"


@pytest.mark.parametrize("name", PLAYBOOK_NAMES)
def test_every_play_takes_its_hosts_from_a_survey_answer_that_may_be_empty(name):
    """AWX sends "" (or null) for an optional text question left blank: that must mean every
    host, not a play with no hosts."""
    for play in load_playbook(name)[1:]:
        assert play["hosts"] == HOSTS, f"{name}: hosts must be {HOSTS}"
    assert load_survey(name)["spec"][0]["variable"] == TARGET


@pytest.mark.parametrize("name", PLAYBOOK_NAMES)
def test_every_playbook_first_stops_on_a_failed_eks_clusters_inventory_source(name):
    """ansible-core only warns about a failed inventory source: the guard makes the run fail."""
    assert load_playbook(name)[0] == {
        "name": "Stop when an eksops.windows.eks_clusters inventory source failed",
        "ansible.builtin.import_playbook": "common/inventory_guard.yml"}, name


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
        assert variable not in not_asked(name), (
            f"{name}: the survey must not ask {variable}: {not_asked(name)[variable]} "
            f"(a survey answer is an extra variable, which overrides the playbook)")
        kind, choices, default = expected_question(options[variable])
        assert question["type"] == kind, f"{name}: {variable} should be a {kind} question"
        if choices is not None:
            assert question["choices"] == choices, f"{name}: {variable} choices"
        if default is COMPUTED:
            # AWX sends a blank answer as "", which would replace the role's computed default
            assert question["required"] is True and isinstance(question.get("default"), str) \
                and question["default"], (f"{name}: {variable} has no default in the argument spec "
                                          f"(the role computes it): the question must be required, "
                                          f"with a default of its own")
            continue
        if kind == "integer" and default is None:
            # an int option without a default: an optional question without one, which AWX does
            # not send when left blank (a default of "" would be sent, and is not an integer)
            assert question["required"] is False and "default" not in question, (
                f"{name}: {variable} has no default in the role: the question must be optional, "
                f"with no default")
            continue
        assert question["default"] == default, (
            f"{name}: {variable} defaults to {question['default']!r} in the survey and "
            f"{default!r} in the role")
        if kind == "text" and default:
            assert question["required"] is True, (
                f"{name}: {variable}: a blank answer reaches the play as \"\" and replaces the "
                f"role's default {default!r}: make the question required")


@pytest.mark.parametrize("name", PLAYBOOK_NAMES)
def test_every_option_that_is_not_per_host_is_asked(name):
    asked = {q["variable"] for q in load_survey(name)["spec"]}
    skipped = not_asked(name)
    missing = sorted(o for o in playbook_options(name)
                     if not o.endswith(PER_HOST_SUFFIXES) and o not in asked and o not in skipped)
    assert not missing, (f"{name}: the role options {missing} have no question in "
                         f"docs/awx/surveys/{name}.json (and no row in docs/awx.md)")


@pytest.mark.parametrize("name", PLAYBOOK_NAMES)
def test_per_host_options_default_to_the_hosts_variable(name):
    """An option is left out of the surveys as per host only when the role really takes it from
    the host: its default in roles/<role>/defaults/main.yml reads the host variable."""
    for fqcn in roles_of(load_playbook(name)):
        role = fqcn[len(NAMESPACE):]
        with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml"), encoding="utf-8") as handle:
            defaults = yaml.safe_load(handle)
        for option in role_options(fqcn):
            suffix = next((s for s in PER_HOST_SUFFIXES if option.endswith(s)), None)
            if suffix is None:
                continue
            variable = PER_HOST_VARIABLES[suffix]
            assert isinstance(defaults.get(option), str) and \
                defaults[option].replace(" ", "").startswith("{{%s" % variable), (
                    f"{fqcn}: {option} is treated as per host (never asked in a survey), so its "
                    f"default must read the host variable {variable}, got {defaults.get(option)!r}")


def test_the_awx_guide_documents_every_question():
    with open(os.path.join(ROOT, "docs", "awx.md"), encoding="utf-8") as handle:
        guide = handle.read()
    for name in PLAYBOOK_NAMES:
        assert f"docs/awx/surveys/{name}.json" in guide, name
        for question in load_survey(name)["spec"]:
            assert f"`{question['variable']}`" in guide, f"{name}: {question['variable']}"


def answers_as_awx_sends_them(survey):
    """The extra variables of a job launched with every default: AWX sends a multiselect as a
    list, the rest as they are in the spec, and nothing for a question without a default."""
    answers = {}
    for question in survey["spec"]:
        if "default" not in question:
            continue  # AWX sends no answer for a question left blank that has no default
        default = question.get("default")
        if question["type"] == "multiselect":
            default = [line for line in (default or "").splitlines() if line.strip()]
        answers[question["variable"]] = default
    return answers


@pytest.mark.parametrize("name", PLAYBOOK_NAMES)
def test_the_default_answers_pass_the_roles_argument_validation(name):
    """What ansible-core's role argument validation (validate_argument_spec) does with the
    survey's defaults: "true"/"false", comma-separated strings and lists must all be accepted."""
    answers = answers_as_awx_sends_them(load_survey(name))
    for fqcn in roles_of(load_playbook(name)):
        options = role_options(fqcn)
        given = {k: v for k, v in answers.items() if k in options}
        result = ArgumentSpecValidator(options).validate(given)
        assert not result.error_messages, f"{name}: {fqcn}: {result.error_messages}"
