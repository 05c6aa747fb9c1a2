"""Start, inspect and stop a lab: etcd, per-cluster kube-apiserver and kube-controller-manager,
and the lab daemon (moto, token webhook, EKS signer). Everything binds to 127.0.0.1 and is
stopped by the PIDs saved in the state directory."""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

import yaml

from . import fixtures, kube, pki

K8S_VERSION = "1.20.2"
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "eksops-lab")
# kube-controller-manager's controllers the lab runs (see _start)
CONTROLLERS = (
    "csrsigning", "csrapproving", "csrcleaner", "namespace", "serviceaccount",
    "serviceaccount-token", "garbagecollector", "deployment", "replicaset", "daemonset",
    "statefulset", "clusterrole-aggregation", "root-ca-cert-publisher", "endpoint",
    "endpointslice",
)


class LabError(Exception):
    pass


def bin_dir():
    cache = os.environ.get("EKSOPS_LAB_CACHE", DEFAULT_CACHE)
    return os.path.join(cache, f"kubernetes-{K8S_VERSION}", "bin")


_HANDED_OUT = set()


def _ephemeral_start():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_range():
    """The ports free_port picks from: EKSOPS_LAB_PORTS, else the 12,000 below the ephemeral
    range."""
    given = os.environ.get("EKSOPS_LAB_PORTS")
    if given:
        try:
            low, high = (int(v) for v in given.split("-"))
        except ValueError:
            low = high = 0
        if not 1024 <= low < high <= 65535:
            raise LabError(f"EKSOPS_LAB_PORTS={given!r} is not a range like 20000-25999 "
                           "(ports 1024 to 65535, the lower first): fix or unset it")
        return low, high
    high = min(_ephemeral_start(), 65536) - 1
    return max(1024, high - 12000), high


def free_port():
    """A free 127.0.0.1 port below the kernel's ephemeral range. A port the kernel picked with
    bind(0) lies inside that range, where any client socket (one of the lab's own connections to
    etcd, say) could take it before the server that was given it binds: an API server then
    failed with "address already in use" (seen in a full test run). Below the range only an
    explicit bind can take it, which the check here sees; a port is never handed out twice.

    EKSOPS_LAB_PORTS=<low>-<high> narrows the range: `make test` gives the gates it runs side by
    side ranges that do not overlap, so two labs starting at once never pick the same port."""
    low, high = port_range()
    for _attempt in range(200):
        port = random.randint(low, high)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise LabError("no free 127.0.0.1 port between %d and %d" % (low, high))


def version_tuple(version):
    return tuple(int(p) for p in str(version).split(".")[:2])


def image_prefix(region):
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"602401143452.dkr.ecr.{region}.{suffix}"


def _write_yaml(path, data, private=False):
    pki.write(path, yaml.safe_dump(data, sort_keys=False).encode(), private=private)


class Lab:
    def __init__(self, state_dir):
        self.state_dir = os.path.abspath(state_dir)

    # --- helpers ---------------------------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.state_dir, *parts)

    def _pids(self):
        try:
            with open(self.path("pids.json"), encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return {}

    def _save_pid(self, name, pid):
        pids = self._pids()
        pids[name] = pid
        with open(self.path("pids.json"), "w", encoding="utf-8") as handle:
            json.dump(pids, handle, indent=2)

    def _spawn(self, name, argv, env=None, cwd=None):
        log = open(self.path(f"{name}.log"), "ab")  # pylint: disable=consider-using-with
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env, cwd=cwd)
        log.close()
        self._save_pid(name, process.pid)
        return process

    def info(self):
        with open(self.path("lab.json"), encoding="utf-8") as handle:
            return json.load(handle)

    def _wait(self, what, check, processes, timeout=90, details=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in processes.items():
                if process.poll() is not None:
                    raise LabError(f"{name} exited with {process.returncode} while waiting for "
                                   f"{what}; see {self.path(name + '.log')}")
            if check():
                return
            time.sleep(0.2)
        raise LabError(f"timed out waiting for {what} ({details or ''}); logs in {self.state_dir}")

    # --- start -----------------------------------------------------------------------------
    def start(self, scenario):
        if os.path.exists(self.path("pids.json")) and self.running():
            raise LabError(f"a lab is already running in {self.state_dir}; stop it first")
        binaries = bin_dir()
        for binary in ("kube-apiserver", "kube-controller-manager"):
            if not os.access(os.path.join(binaries, binary), os.X_OK):
                raise LabError(f"{binary} is not built in {binaries}: "
                               "run tests/lab/build-kubernetes.sh (make lab-build)")
        # every start is a new lab: nothing of an earlier one (etcd data, PKI, logs) is reused
        if os.path.isdir(self.state_dir):
            shutil.rmtree(self.state_dir)
        os.makedirs(self.state_dir)
        started = time.monotonic()
        try:
            self._start(scenario, binaries)
        except BaseException:
            self.stop()
            raise
        return time.monotonic() - started

    def _start(self, scenario, binaries):
        default_region = scenario.get("region", "us-west-2")
        config = {"moto_port": free_port(), "authn_port": free_port(), "clusters": [],
                  "users": scenario.get("users", []),
                  "windows_amis": scenario.get("windows_amis", [])}

        authn_dir = self.path("authn")
        os.makedirs(authn_dir, exist_ok=True)
        authn_ca_key, authn_ca = pki.make_ca("eksops-lab-authenticator-ca")
        authn_key = pki.new_key()
        authn_cert = pki.issue(authn_ca_key, authn_ca, authn_key.public_key(),
                               pki.subject("eksops-lab-authenticator"), server=True,
                               ip_addresses=("127.0.0.1",), dns_names=("localhost",))
        config["authn"] = {
            "ca_file": pki.write(os.path.join(authn_dir, "ca.crt"), pki.cert_pem(authn_ca)),
            "cert_file": pki.write(os.path.join(authn_dir, "tls.crt"), pki.cert_pem(authn_cert)),
            "key_file": pki.write(os.path.join(authn_dir, "tls.key"), pki.key_pem(authn_key),
                                  private=True),
        }

        for spec in scenario["clusters"]:
            spec = dict(spec)
            spec.setdefault("region", default_region)
            name = spec["name"]
            cluster_pki = pki.ClusterPKI(self.path("clusters", name), name)
            port = free_port()
            signer_default = version_tuple(spec["version"]) >= (1, 22)
            config["clusters"].append({
                "name": name, "region": spec["region"], "port": port,
                "endpoint": f"https://127.0.0.1:{port}",
                "version": str(spec["version"]),
                "platform_version": spec.get("platform_version", "eks.1"),
                "app_serving_signer": spec.get("app_serving_signer", signer_default),
                "pki": {k: v for k, v in vars(cluster_pki).items() if k.endswith("_file")},
                "scenario": spec,
            })
        with open(self.path("config.json"), "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2)

        etcd_port, etcd_peer = free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        processes = {"etcd": self._spawn("etcd", [
            os.environ.get("EKSOPS_LAB_ETCD", "etcd"), "--name", "lab",
            "--data-dir", self.path("etcd-data"),
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-cluster", f"lab=http://127.0.0.1:{etcd_peer}",
            "--log-level", "warn",
        ])}
        env = dict(os.environ)
        env["PYTHONPATH"] = os.path.dirname(HERE) + os.pathsep + env.get("PYTHONPATH", "")
        processes["daemon"] = self._spawn(
            "daemon", [sys.executable, "-m", "eksopslab.daemon", self.state_dir], env=env)

        # One thread of Go scheduling per server: with a lab's 15 servers on 2 cores, each
        # server's spinning for idle cores cost a quarter of its idle CPU.
        go_env = dict(os.environ, GOMAXPROCS="1")
        audit_policy = self.path("audit-policy.yaml")
        _write_yaml(audit_policy, {"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
                                   "omitStages": ["RequestReceived"],
                                   "rules": [{"level": "Metadata"}]})
        for cluster in config["clusters"]:
            name, files = cluster["name"], cluster["pki"]
            webhook_kubeconfig = self.path("clusters", name, "authn-webhook.yaml")
            _write_yaml(webhook_kubeconfig, {
                "apiVersion": "v1", "kind": "Config",
                "clusters": [{"name": "eks-authenticator", "cluster": {
                    "server": f"https://127.0.0.1:{config['authn_port']}/authenticate/{name}",
                    "certificate-authority": config["authn"]["ca_file"]}}],
                "users": [{"name": "kube-apiserver", "user": {}}],
                "contexts": [{"name": "webhook", "context": {"cluster": "eks-authenticator",
                                                             "user": "kube-apiserver"}}],
                "current-context": "webhook",
            })
            processes[f"apiserver-{name}"] = self._spawn(f"apiserver-{name}", [
                os.path.join(binaries, "kube-apiserver"),
                f"--etcd-servers={etcd_url}", f"--etcd-prefix=/eksops-lab/{name}",
                "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
                f"--secure-port={cluster['port']}", "--insecure-port=0",
                f"--tls-cert-file={files['serving_file']}",
                f"--tls-private-key-file={files['serving_key_file']}",
                f"--client-ca-file={files['ca_file']}",
                f"--service-account-key-file={files['sa_pub_file']}",
                f"--service-account-signing-key-file={files['sa_key_file']}",
                "--service-account-issuer=https://oidc.eks.lab.invalid/id/" + name,
                "--api-audiences=https://kubernetes.default.svc",
                "--authorization-mode=Node,RBAC",
                f"--authentication-token-webhook-config-file={webhook_kubeconfig}",
                "--authentication-token-webhook-version=v1",
                "--authentication-token-webhook-cache-ttl=10s",
                "--service-cluster-ip-range=10.100.0.0/16",
                "--allow-privileged=true",
                "--enable-priority-and-fairness=false",
                # the kubernetes Service's endpoints may not be loopback addresses
                "--endpoint-reconciler-type=none",
                # Webhooks and aggregated APIs are reached through a Service's Endpoints, not
                # its ClusterIP: the lab has no kubelet, so no Endpoints ever exist and the API
                # server never dials a (non-loopback) ClusterIP, e.g. for the legacy
                # vpc-admission-webhook, whose calls fail open locally instead.
                "--enable-aggregator-routing=true",
                f"--cert-dir={self.path('clusters', name)}",
                # every request, at Metadata level: tests and benchmarks count them per user
                f"--audit-policy-file={audit_policy}",
                f"--audit-log-path={self.path('clusters', name, 'audit.log')}",
                "--audit-log-mode=blocking",
                # Reads come from etcd, not from a watch cache per resource: one lab runs up to
                # 15 API servers on 2 cores, and the caches' timers were most of their idle CPU
                # (15 idle servers, GOMAXPROCS=1: 18 CPU-s a minute with the caches, 11 without)
                "--watch-cache=false",
                "--v=1",
            ], env=go_env)

        # Polled every 0.2 s until all are ready: only the API servers not ready yet, each through
        # one client kept for the wait. A new client and TLS handshake per server and poll cost
        # this process 5.7 CPU-s on a 15-cluster start, against 4.4 (median of 3)
        not_ready = {cluster["name"]: "not polled yet" for cluster in config["clusters"]}
        pollers = {}

        def all_ready():
            for cluster in config["clusters"]:
                name = cluster["name"]
                if name not in not_ready:
                    continue
                if name not in pollers:
                    pollers[name] = kube.admin_client(cluster["endpoint"], cluster["pki"])
                try:
                    pollers[name].call_api("/readyz", "GET", _return_http_data_only=True,
                                           _preload_content=False, _request_timeout=2)
                    not_ready.pop(name)
                except Exception as exc:  # pylint: disable=broad-except
                    not_ready[name] = str(exc).splitlines()[0]
            if not os.path.exists(self.path("aws.json")):
                not_ready["daemon"] = "aws.json not written yet"
                return False
            not_ready.pop("daemon", None)
            return not not_ready

        # the daemon creates every cluster's AWS objects one after another (about 15 requests
        # and 1-2 s each, more on a loaded machine): the wait grows with the clusters
        try:
            self._wait("the API servers and the lab daemon", all_ready, processes,
                       details=not_ready, timeout=max(90, 30 + 10 * len(config["clusters"])))
        finally:
            for api in pollers.values():
                api.close()

        with open(self.path("aws.json"), encoding="utf-8") as handle:
            aws_state = json.load(handle)
        for cluster in config["clusters"]:
            name, files = cluster["name"], cluster["pki"]
            admin_kubeconfig = self.path("clusters", name, "admin.kubeconfig")
            _write_yaml(admin_kubeconfig, kubeconfig(name, cluster["endpoint"], files), True)
            cluster["admin_kubeconfig"] = admin_kubeconfig
            self._spawn(f"controller-manager-{name}", [
                os.path.join(binaries, "kube-controller-manager"),
                f"--kubeconfig={admin_kubeconfig}",
                "--bind-address=127.0.0.1", "--port=0", "--secure-port=0",
                f"--cluster-signing-cert-file={files['ca_file']}",
                f"--cluster-signing-key-file={files['ca_key_file']}",
                f"--root-ca-file={files['ca_file']}",
                f"--service-account-private-key-file={files['sa_key_file']}",
                "--use-service-account-credentials=false",
                "--leader-elect=false",
                # only the controllers whose work the lab's objects need: CSR signing (v1beta1
                # and the legacy flow), namespaces, service accounts and their tokens, garbage
                # collection and the workload controllers; no node lifecycle (no kubelet), and
                # none of the periodic ones (quota, HPA, jobs, volumes) that only cost CPU here
                "--controllers=" + ",".join(CONTROLLERS),
                "--v=1",
            ], env=go_env)
            ca_key = pki.load_key(open(files["ca_key_file"], "rb").read())
            ca_cert = pki.load_cert(open(files["ca_file"], "rb").read())
            api = kube.admin_client(cluster["endpoint"], files)
            fixtures.apply(api, fixtures.cluster_objects(
                cluster["scenario"], ca_key, ca_cert, aws_state["admin"]["arn"],
                image_prefix(cluster["region"]),
                instances=aws_state["clusters"][name].get("instances")))
            fixtures.apply_events(api, cluster["scenario"].get("events", []))
            api.close()
            cluster.update(aws_state["clusters"][name])

        info = {
            "state_dir": self.state_dir,
            "aws_endpoint": aws_state["endpoint"],
            "admin": aws_state["admin"],
            "users": aws_state["users"],
            "windows_amis": aws_state.get("windows_amis", {}),
            "clusters": {c["name"]: {k: v for k, v in c.items() if k != "scenario"}
                         for c in config["clusters"]},
        }
        path = self.path("lab.json")
        pki.write(path, json.dumps(info, indent=2).encode(), private=True)
        self._write_env(info)
        self._write_inventory(info)
        self._write_plugin_inventory(info)

    def _write_env(self, info):
        lines = [
            f"export AWS_ENDPOINT_URL={info['aws_endpoint']}",
            f"export AWS_ACCESS_KEY_ID={info['admin']['access_key']}",
            f"export AWS_SECRET_ACCESS_KEY={info['admin']['secret_key']}",
            "unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN",
            f"export EKSOPS_LAB_STATE={self.state_dir}",
        ]
        pki.write(self.path("env.sh"), ("\n".join(lines) + "\n").encode(), private=True)

    def _write_inventory(self, info):
        hosts = {name: {"eks_cluster_name": name, "aws_region": c["region"]}
                 for name, c in info["clusters"].items()}
        _write_yaml(self.path("inventory.yml"), {"all": {"children": {"eks_clusters": {
            "hosts": hosts,
            "vars": {"ansible_connection": "local",
                     "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        }}}})

    def _write_plugin_inventory(self, info):
        """The same clusters through the eksops.windows.eks_clusters inventory plugin: the
        scenario's regions and moto's endpoint; credentials come from the environment (env.sh)."""
        regions = sorted({c["region"] for c in info["clusters"].values()})
        _write_yaml(self.path("eks_clusters.yml"), {
            "plugin": "eksops.windows.eks_clusters",
            "regions": regions,
            "endpoint_url": info["aws_endpoint"],
        })

    # --- stop and status ---------------------------------------------------------------------
    def running(self):
        return {name: pid for name, pid in self._pids().items() if alive(pid)}

    def stop(self, timeout=15):
        pids = self._pids()
        # controllers first, etcd last
        order = sorted(pids, key=lambda n: (n == "etcd", n.startswith("apiserver"), n))
        for name in order:
            try:
                os.killpg(pids[name], signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        for name, pid in self.running().items():
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if os.path.exists(self.path("pids.json")):
            os.remove(self.path("pids.json"))
        return sorted(pids)


def alive(pid):
    """Whether `pid` runs; reaps it when it is our exited child (tests start labs in-process)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child (labctl started it): ask the kernel
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def kubeconfig(name, endpoint, files):
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": endpoint,
                                                "certificate-authority": files["ca_file"]}}],
        "users": [{"name": f"{name}-admin", "user": {
            "client-certificate": files["admin_file"], "client-key": files["admin_key_file"]}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
    }


def load_scenario(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)
