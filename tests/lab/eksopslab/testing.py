"""What test suites share to run against a lab: start/stop, clients, and running playbooks."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import boto3
import yaml

from . import aws_audit, interrupt, kube
from .lab import Lab, alive as _alive, load_scenario

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
SCENARIOS = os.path.join(ROOT, "tests", "lab", "scenarios")
WRITE_VERBS = frozenset(("create", "update", "patch", "delete", "deletecollection"))
# AWS actions that only read; anything else moto answered (Attach, Create, Put...) is a write.
AWS_READ_PREFIXES = ("Describe", "List", "Get", "GET ", "HEAD ")


@contextlib.contextmanager
def running_lab(state_dir, scenario):
    if isinstance(scenario, str):
        scenario = load_scenario(os.path.join(SCENARIOS, scenario))
    lab = Lab(state_dir)
    lab.start(scenario)
    try:
        yield LabHandle(lab)
    finally:
        lab.stop()


class LabPool:
    """At most one running lab, of the scenario last asked for: `get(scenario)` starts it (after
    stopping the lab of another scenario) or returns the one that runs. Test files that only read
    a scenario share its start this way."""

    def __init__(self, new_state_dir):
        self.new_state_dir = new_state_dir
        self.scenario, self._handle = None, None
        self._running = contextlib.ExitStack()

    def get(self, scenario):
        if scenario != self.scenario:
            self.stop()
            self._handle = self._running.enter_context(running_lab(self.new_state_dir(), scenario))
            self.scenario = scenario
        return self._handle

    def stop(self):
        self._running.close()
        self.scenario, self._handle = None, None


class LabHandle:
    def __init__(self, lab):
        self.lab = lab
        self.info = lab.info()

    def cluster(self, name):
        return self.info["clusters"][name]

    def admin_api(self, name):
        cluster = self.cluster(name)
        return kube.admin_client(cluster["endpoint"], cluster["pki"])

    def get(self, cluster, path):
        api = self.admin_api(cluster)
        try:
            return kube.request(api, "GET", path)
        finally:
            api.close()

    def aws_env(self, user=None):
        creds = self.info["users"][user] if user else self.info["admin"]
        return {
            "AWS_ENDPOINT_URL": self.info["aws_endpoint"],
            "AWS_ACCESS_KEY_ID": creds["access_key"],
            "AWS_SECRET_ACCESS_KEY": creds["secret_key"],
        }

    def boto3_client(self, service, region, user=None):
        env = self.aws_env(user)
        return boto3.client(service, region_name=region, endpoint_url=env["AWS_ENDPOINT_URL"],
                            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])

    def requests(self, cluster, username="kubernetes-admin"):
        """Requests the API server of `cluster` has answered for `username` (the audit log):
        a list of (verb, requestURI, status code)."""
        seen = []
        with open(os.path.join(self.lab.path("clusters", cluster, "audit.log")),
                  encoding="utf-8") as handle:
            for line in handle:
                if not line.endswith("\n"):
                    break  # the API server is still writing this line: not an event yet
                event = json.loads(line)
                if event.get("user", {}).get("username") == username:
                    seen.append((event["verb"], event["requestURI"],
                                 event.get("responseStatus", {}).get("code")))
        return seen

    def writes(self, clusters, username="kubernetes-admin"):
        """The write requests (WRITE_VERBS) in the audit log: a list for one cluster name, a
        {name: list} for a list of names."""
        if isinstance(clusters, str):
            return [r for r in self.requests(clusters, username) if r[0] in WRITE_VERBS]
        return {name: self.writes(name, username) for name in clusters}

    def aws_calls(self, user=None):
        """The AWS requests moto has answered for the admin (or scenario `user`), oldest first:
        a list of (service, action, status) from the lab's AWS audit log."""
        key = (self.info["users"][user] if user else self.info["admin"])["access_key"]
        return [(e["service"], e["action"], e["status"])
                for e in aws_audit.read(self.lab.path("aws-audit.log"), key)]

    def aws_writes(self, user=None):
        """The AWS requests of aws_calls() whose action is not a read (AWS_READ_PREFIXES)."""
        return [c for c in self.aws_calls(user) if not c[1].startswith(AWS_READ_PREFIXES)]

    # --- faults of one cluster's API server (issue 11) --------------------------------------
    def apiserver_pid(self, cluster):
        return self.lab._pids()[f"apiserver-{cluster}"]  # pylint: disable=protected-access

    @contextlib.contextmanager
    def frozen(self, cluster):
        """The API server of `cluster` stopped with SIGSTOP for the block: the kernel still
        accepts TCP connections on its port, and nothing ever answers them (a hung server, or
        an endpoint that takes connections and never replies)."""
        pid = self.apiserver_pid(cluster)
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    def stop_apiserver(self, cluster):
        """Kill the API server of `cluster` for good (connections to it are refused from then
        on); the lab's stop leaves it alone."""
        pid = self.apiserver_pid(cluster)
        os.kill(pid, signal.SIGKILL)
        for _attempt in range(100):
            if not _alive(pid):
                return
            time.sleep(0.05)

    def inventory(self):
        return self.lab.path("inventory.yml")

    def plugin_inventory(self):
        """The lab's config for the eksops.windows.eks_clusters inventory plugin."""
        return self.lab.path("eks_clusters.yml")

    def run_playbook(self, playbook, *args, inventory=None, env=None, check=False):
        """Run ansible-playbook with the json callback; returns (returncode, parsed, raw)."""
        argv, run_env = self._playbook_command(playbook, args, inventory, env, check)
        done = subprocess.run(argv, env=run_env, capture_output=True, text=True, cwd=ROOT,
                              check=False)
        try:
            parsed = json.loads(done.stdout[done.stdout.index("{"):])
        except ValueError:
            parsed = None
        return done.returncode, parsed, done.stdout + done.stderr

    def run_playbook_killed_after(self, cluster, matches, playbook, *args, inventory=None,
                                  env=None, check=False, timeout=180):
        """Run ansible-playbook and SIGKILL its process group as soon as the audit log of
        `cluster` shows a request with `matches(verb, requestURI, code)` (interrupt.py).
        Returns (killed, the request seen, output)."""
        argv, run_env = self._playbook_command(playbook, args, inventory, env, check)
        return interrupt.run_killed_after(self, cluster, matches, argv, run_env, ROOT, timeout)

    def _playbook_command(self, playbook, args, inventory, env, check):
        run_env = dict(os.environ)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "K8S_AUTH_KUBECONFIG",
                     "K8S_AUTH_CONTEXT", "K8S_AUTH_HOST"):
            run_env.pop(name, None)
        run_env.update(self.aws_env())
        run_env.update({"ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
                        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
                        "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
                        "ANSIBLE_SHOW_CUSTOM_STATS": "true"})
        run_env.update(env or {})
        argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                "-i", inventory or self.inventory(), playbook, *args]
        if check:
            argv.append("--check")
        return argv, run_env


def task_results(parsed, task_name):
    """{host: result} for the task called `task_name` in a json-callback run (a role's tasks
    are named "<role> : <name>")."""
    results = {}
    for play in parsed["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].split(" : ", 1)[-1] == task_name:
                results.update(task["hosts"])
    return results


def host_inventory(path, hosts):
    """Write an inventory of `hosts` ({host: vars}) run on the controller as the lab's are, and
    return its path: several hosts of one cluster, each with other variables, test several
    inputs in one ansible-playbook run."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    return write_yaml(path, {"all": {"hosts": {name: dict(local, **values) for name, values in hosts.items()}}})


def write_yaml(path, data):
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, sort_keys=False)
    return str(path)
