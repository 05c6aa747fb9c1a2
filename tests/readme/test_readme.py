"""The README's first two commands are `make demo` and `make test`, and the demo does what the
README says: it prints every lab cluster's versions, read through the EKS token path."""

import json
import os
import re
import subprocess

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        return handle.read()


def test_first_two_commands_are_demo_and_test():
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", readme(), re.S)
    commands = [line.strip() for block in blocks for line in block.splitlines()
                if line.strip() and not line.strip().startswith("#")]
    assert commands[:2] == ["make demo", "make test"]


def test_every_make_target_the_readme_names_exists():
    targets = set(re.findall(r"\bmake ([a-z][a-z-]*)", readme()))
    assert {"demo", "test"} <= targets
    for target in sorted(targets):
        done = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, f"make {target}: {done.stderr}"


def test_ci_runs_the_readme_test_command():
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as handle:
        lines = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    assert lines[-1] == "make test"


def test_make_demo_runs_the_everyday_flow(tmp_path):
    """inventory -> cluster_info -> fleet report -> enable where the report lets it."""
    report = tmp_path / "report"
    done = subprocess.run(["make", "demo"], cwd=ROOT, capture_output=True, text=True,
                          check=False, env=dict(os.environ, EKSOPS_DEMO_STATE=os.path.join(
                              ROOT, ".lab", "readme-demo"), EKSOPS_DEMO_REPORT=str(report)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "@eks_clusters:" in done.stdout  # the inventory plugin's graph
    with open(report / "fleet-report.json", encoding="utf-8") as handle:
        clusters = {c["name"]: c for c in json.load(handle)["clusters"]}
    assert clusters["legacy-1-19"]["mode"] == "legacy"
    assert (report / "fleet-report.html").is_file()
    assert "lets through: edge-1-29,prod-1-21,today-1-31\n" in done.stdout
    # the add-on owns today-1-31's ConfigMap: the setting went to the add-on
    assert "ConfigMap via_addon (enable-windows-ipam=true; owner addon, written to addon)" in done.stdout
    assert "changed: [legacy-1-19]" not in done.stdout
    with open(os.path.join(ROOT, "tests", "lab", "scenarios", "demo.yml"), encoding="utf-8") as f:
        scenario = yaml.safe_load(f)
    for cluster in scenario["clusters"]:
        line = (f"{cluster['name']} ({cluster.get('region', scenario['region'])}): "
                f"Kubernetes {cluster['version']}, platform {cluster['platform_version']}, "
                "API server v1.20.2")
        assert line in done.stdout, done.stdout
    assert done.stdout.count("via eks-token") == len(scenario["clusters"])
    assert "lab: stopped" in done.stdout
