"""The playbooks as AWX runs them: ansible-runner over a private data directory laid out the way
AWX lays it out (project/, inventory/hosts, env/extravars with survey answers, env/envvars with
the AWS credential's variables, env/cmdline for a "Check" job with "Show changes"), against the
lab. Assertions are on runner's artifacts (status, rc, job events, the set_stats artifact_data
that workflows read) and on the clusters, read back through the API and moto."""

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from eksopslab.testing import COLLECTIONS, ROOT, running_lab

RUNNER = os.path.join(os.path.dirname(sys.executable), "ansible-runner")
# What AWX adds to every job's extra vars next to the survey answers.
AWX_VARS = {"awx_job_id": 4242, "awx_job_launch_type": "manual", "awx_user_name": "admin",
            "tower_job_id": 4242}


ENABLE = ("china", "prod")  # enable has work to do on these; "legacy" still runs legacy components


@pytest.fixture(scope="module", name="lab")
def runner_lab(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("runner")), "awx.yml") as handle:
        yield handle


def clusters(lab):
    """{host: host vars} of the lab's static inventory (one host per cluster)."""
    with open(lab.inventory(), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["all"]["children"]["eks_clusters"]["hosts"]


def private_data_dir(tmp_path, lab, extravars, check=False):
    if not os.access(RUNNER, os.X_OK):
        pytest.fail(f"ansible-runner is not installed next to {sys.executable}: it is in "
                    "requirements/dev.txt; install it with "
                    f"`{sys.executable} -m pip install ansible-runner`")
    pdd = tmp_path / "job"
    # the project as AWX checks it out: this repository's playbooks/ directory
    shutil.copytree(os.path.join(ROOT, "playbooks"), pdd / "project" / "playbooks")
    (pdd / "inventory").mkdir()
    shutil.copy(lab.inventory(), pdd / "inventory" / "hosts")
    env = pdd / "env"
    env.mkdir()
    (env / "extravars").write_text(json.dumps(dict(AWX_VARS, **extravars)))
    (env / "envvars").write_text(json.dumps(dict(
        lab.aws_env(), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0")))
    (env / "settings").write_text(json.dumps({"job_timeout": 600, "idle_timeout": 300,
                                              "suppress_ansible_output": True}))
    if check:  # job type "Check" and "Show changes"
        (env / "cmdline").write_text("--check --diff")
    return pdd


def run_job(pdd, playbook, ident):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT",
                 "K8S_AUTH_HOST", "ANSIBLE_STDOUT_CALLBACK"):
        env.pop(name, None)
    done = subprocess.run([RUNNER, "run", str(pdd), "-p", playbook, "--ident", ident],
                          env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    artifacts = pdd / "artifacts" / ident
    events = []
    for path in glob.glob(str(artifacts / "job_events" / "*.json")):
        with open(path, encoding="utf-8") as handle:
            events.append(json.load(handle))
    events.sort(key=lambda e: e["counter"])
    stdout = (artifacts / "stdout").read_text() if (artifacts / "stdout").exists() else ""
    return {"returncode": done.returncode,
            "status": (artifacts / "status").read_text().strip() if (artifacts / "status").exists() else None,
            "rc": (artifacts / "rc").read_text().strip() if (artifacts / "rc").exists() else None,
            "events": events, "log": done.stdout + done.stderr + stdout}


def host_results(job, task, event="runner_on_ok"):
    return {e["event_data"]["host"]: e["event_data"]["res"] for e in job["events"]
            if e["event"] == event and e["event_data"].get("task") == task}


def artifact_data(job):
    stats = [e for e in job["events"] if e["event"] == "playbook_on_stats"]
    assert len(stats) == 1, job["log"]
    return stats[0]["event_data"]["artifact_data"]


def assert_successful(job):
    assert (job["returncode"], job["status"], job["rc"]) == (0, "successful", "0"), job["log"]
    assert not [e for e in job["events"] if e["event"] in ("runner_on_failed", "runner_on_unreachable")]


def state(lab, names):
    """Each cluster's amazon-vpc-cni data and the policies attached to its role."""
    seen = {}
    for name in names:
        cluster = lab.cluster(name)
        cms = lab.get(name, "/api/v1/namespaces/kube-system/configmaps")["items"]
        data = [cm.get("data") for cm in cms if cm["metadata"]["name"] == "amazon-vpc-cni"]
        iam = lab.boto3_client("iam", cluster["region"])
        role = cluster["role_arn"].rsplit("/", 1)[1]
        policies = sorted(p["PolicyArn"] for p in
                          iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"])
        seen[name] = (data, policies)
    return seen


def test_cluster_info_job_with_a_blank_target_runs_every_cluster(lab, tmp_path):
    """A blank optional survey question reaches the play as "": every cluster, not none."""
    hosts = clusters(lab)
    job = run_job(private_data_dir(tmp_path, lab, {"eksops_target": ""}, check=True),
                  "playbooks/cluster_info.yml", "cluster-info")
    assert_successful(job)
    lines = host_results(job, "Print the cluster's versions and nodes")
    assert set(lines) == set(hosts)
    for name, host in hosts.items():
        described = lab.boto3_client("eks", host["aws_region"]).describe_cluster(name=name)["cluster"]
        assert lines[name]["msg"].startswith(
            f"{name} ({host['aws_region']}): Kubernetes {described['version']}, "
            f"platform {described['platformVersion']}, API server v1.20.2"), lines[name]
        assert lines[name]["msg"].endswith("via eks-token")


def test_enable_check_job_reports_every_cluster_to_the_workflow_and_writes_nothing(lab, tmp_path):
    hosts = clusters(lab)
    names = list(ENABLE)
    before, writes_before = state(lab, names), lab.writes(names)
    assert all(data == [{"enable-windows-ipam": "false"}] for data, _p in before.values()), before
    job = run_job(private_data_dir(tmp_path, lab, {"eksops_target": ", ".join(names),
                                                   "enable_manage_iam": "true"}, check=True),
                  "playbooks/enable.yml", "enable-check")
    assert_successful(job)
    assert state(lab, names) == before
    assert lab.writes(names) == writes_before
    # the per-cluster summary line, as the job's output shows it
    summaries = host_results(job, "Print the cluster's summary")
    assert set(summaries) == set(names)
    for name in names:
        assert summaries[name]["msg"].startswith(f"{name} ({hosts[name]['aws_region']},"), summaries[name]
        assert ("policy attached (attached=True), ConfigMap patched (enable-windows-ipam=true; "
                "owner none, written to configmap)") in summaries[name]["msg"], summaries[name]
    # --diff ("Show changes"): the module's diff is in the task's event
    results = host_results(job, "Enable control-plane Windows support")
    for name in names:
        assert results[name]["changed"] is True
        assert results[name]["diff"]["before"]["enable-windows-ipam"] == "false"
        assert results[name]["diff"]["after"]["enable-windows-ipam"] == "true"
    # what a workflow's next node gets: the set_stats data of every cluster
    data = artifact_data(job)["eksops_windows_enable"]
    assert set(data) == set(names)
    for name in names:
        assert data[name]["cluster"] == name
        assert data[name]["region"] == hosts[name]["aws_region"]
        assert data[name]["policy"] == "attached"
        assert data[name]["configmap"] == "patched"
        assert data[name]["enable_windows_ipam"] == "true"
        assert data[name]["changed"] is True


@pytest.mark.parametrize("answer, policy", [("false", "not_managed"), ("true", "attached")])
def test_boolean_survey_answers_arrive_as_strings_and_mean_what_they_say(lab, tmp_path, answer, policy):
    """AWX surveys have no boolean type: a true/false choice reaches the play as the string
    "true" or "false". "false" must leave IAM alone (a non-empty string is truthy in Jinja)."""
    before = state(lab, ["prod"])
    job = run_job(private_data_dir(tmp_path, lab, {"eksops_target": "prod",
                                                   "enable_manage_iam": answer}, check=True),
                  "playbooks/enable.yml", f"enable-manage-iam-{answer}")
    assert_successful(job)
    assert host_results(job, "Enable control-plane Windows support")["prod"]["iam"]["action"] == policy
    data = artifact_data(job)["eksops_windows_enable"]
    assert set(data) == {"prod"}
    assert data["prod"]["policy"] == policy
    assert state(lab, ["prod"]) == before


def test_migrate_check_job_previews_the_removal_and_does_not_fail_on_enable(lab, tmp_path):
    """Check mode deletes nothing, so enable would refuse on the legacy objects: the check job
    says so and succeeds, with the removal preview in the workflow data."""
    before = lab.get("legacy", "/apis/apps/v1/namespaces/kube-system/deployments")["items"]
    writes_before = lab.writes(["legacy"])
    job = run_job(private_data_dir(tmp_path, lab, {"eksops_target": "legacy",
                                                   "enable_manage_iam": "true"}, check=True),
                  "playbooks/migrate_to_control_plane.yml", "migrate-check")
    assert_successful(job)
    assert "cannot be previewed" in host_results(job, "Say what check mode cannot preview")["legacy"]["msg"]
    data = artifact_data(job)
    assert "eksops_windows_enable" not in data
    removal = data["eksops_windows_legacy_remove"]["legacy"]
    assert removal["check_mode"] is True and removal["flavour"] == "script"
    assert "Deployment vpc-resource-controller" in removal["deleted"]
    assert lab.get("legacy", "/apis/apps/v1/namespaces/kube-system/deployments")["items"] == before
    assert lab.writes(["legacy"]) == writes_before


def test_migrate_run_job_hands_both_steps_to_the_workflow(lab, tmp_path):
    job = run_job(private_data_dir(tmp_path, lab, {"eksops_target": "legacy",
                                                   "enable_manage_iam": "true"}),
                  "playbooks/migrate_to_control_plane.yml", "migrate-run")
    assert_successful(job)
    data = artifact_data(job)
    assert data["eksops_windows_legacy_remove"]["legacy"]["changed"] is True
    assert data["eksops_windows_enable"]["legacy"]["enable_windows_ipam"] == "true"
    names = {d["metadata"]["name"] for d in
             lab.get("legacy", "/apis/apps/v1/namespaces/kube-system/deployments")["items"]}
    assert "vpc-resource-controller" not in names
    assert state(lab, ["legacy"])["legacy"][0] == [{"enable-windows-ipam": "true"}]


def test_a_run_job_converges_and_its_second_run_changes_nothing(lab, tmp_path):
    """Job type "Run" with the survey's defaults, then again: the second job reports no change
    to the workflow. Runs last in this module: it enables the clusters."""
    names = list(ENABLE)
    answers = {"eksops_target": ",".join(names), "enable_manage_iam": "true"}
    first = run_job(private_data_dir(tmp_path / "first", lab, answers), "playbooks/enable.yml", "run-1")
    assert_successful(first)
    for name, (data, policies) in state(lab, names).items():
        assert data == [{"enable-windows-ipam": "true"}], name
        assert any(p.endswith(":policy/AmazonEKSVPCResourceController") for p in policies), name
    second = run_job(private_data_dir(tmp_path / "second", lab, answers), "playbooks/enable.yml", "run-2")
    assert_successful(second)
    data = artifact_data(second)["eksops_windows_enable"]
    assert set(data) == set(names)
    assert all(d["changed"] is False and d["configmap"] == "none" for d in data.values()), data
