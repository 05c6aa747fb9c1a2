"""The lab's own process: moto (AWS), the EKS token-review webhook and the EKS signer.

Started by `labctl start` with the state directory as its only argument; it reads
`config.json` there, writes `aws.json` when AWS is ready, and runs until SIGTERM.
"""

import json
import logging
import os
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# moto reads this when IAM is first used: AmazonEKSVPCResourceController and friends must exist.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
# ...and this when a region's EC2 is first used: its 1,299 default AMIs, which no scenario uses (the
# lab registers every image a node runs), cost 0.3 CPU-s a region and every DescribeImages a scan.
os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIALABBOOTSTRAP0000")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bootstrap")

# pylint: disable=wrong-import-position
from . import authn, aws, aws_audit, eks_access_entries, eks_addons, kube, pki, signer  # noqa: E402

LOG = logging.getLogger("eksopslab")


class Daemon:
    def __init__(self, state_dir):
        self.state_dir = state_dir
        with open(os.path.join(state_dir, "config.json"), encoding="utf-8") as handle:
            self.config = json.load(handle)
        self.clusters = {c["name"]: c for c in self.config["clusters"]}
        self.admin = None
        self.stopping = threading.Event()
        self._clients = {}

    def client(self, name):
        if name not in self._clients:
            cluster = self.clusters[name]
            self._clients[name] = kube.admin_client(cluster["endpoint"], cluster["pki"])
        return self._clients[name]

    # --- AWS -----------------------------------------------------------------------------
    def start_aws(self):
        eks_addons.install(self.client)  # before moto builds its EKS URL map
        eks_access_entries.install()
        aws.install_ec2_patches()
        self.moto = aws_audit.AuditedMotoServer(
            self.config["moto_port"], os.path.join(self.state_dir, "aws-audit.log"))
        self.moto.start()
        endpoint = f"http://127.0.0.1:{self.config['moto_port']}"
        self.admin = aws.create_admin(endpoint)
        result = {"endpoint": endpoint, "admin": self.admin, "clusters": {}, "users": {}}
        policies = {}
        for user in self.config.get("users", []):
            user = {"name": user} if isinstance(user, str) else user
            created = aws.create_user(endpoint, self.admin, user["name"], user.get("policy"))
            result["users"][user["name"]] = created
            if user.get("policy"):
                policies[created["access_key"]] = (created["arn"], user["policy"])
        windows_amis = self.config.get("windows_amis") or []
        regions = sorted({c["region"] for c in self.config["clusters"]})
        amis = {region: aws.register_windows_amis(region, windows_amis) for region in regions}
        for cluster in self.config["clusters"]:
            with open(cluster["pki"]["ca_file"], "rb") as handle:
                ca_pem = handle.read()
            result["clusters"][cluster["name"]] = aws.create_cluster(
                endpoint, self.admin, cluster["scenario"], cluster["endpoint"], ca_pem,
                amis=amis[cluster["region"]])
        for region in regions:  # after the instances that still run them started
            aws.deregister_amis(region, windows_amis, amis[region])
        result["windows_amis"] = amis
        if policies:
            aws.enforce_iam_policies(policies)
        path = os.path.join(self.state_dir, "aws.json")
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
        os.chmod(path + ".tmp", 0o600)
        os.replace(path + ".tmp", path)

    # --- authentication webhook ------------------------------------------------------------
    def review(self, cluster_name, body):
        token = (body.get("spec") or {}).get("token", "")
        status = {"authenticated": False}
        try:
            access_key = authn.verify(
                token, cluster_name, f"127.0.0.1:{self.config['moto_port']}", aws.secret_for)[0]
            arn = authn.caller_arn(access_key)
            aws_auth = kube.request(
                self.client(cluster_name), "GET",
                "/api/v1/namespaces/kube-system/configmaps/aws-auth").get("data")
            username, groups = authn.map_identity(arn, self.admin["arn"], aws_auth)
            status = {"authenticated": True,
                      "user": {"username": username, "uid": f"aws-iam-authenticator:{arn}",
                               "groups": groups + ["system:authenticated"],
                               "extra": {"arn": [arn]}}}
            LOG.info("token accepted for %s on %s", arn, cluster_name)
        except authn.Refused as exc:
            status["error"] = str(exc)
            LOG.info("token refused on %s: %s", cluster_name, exc)
        except Exception as exc:  # pylint: disable=broad-except
            status["error"] = f"authenticator error: {exc}"
            LOG.exception("token review failed on %s", cluster_name)
        return {"apiVersion": body.get("apiVersion", "authentication.k8s.io/v1"),
                "kind": "TokenReview", "status": status}

    def start_authn(self):
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                cluster_name = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
                if cluster_name not in daemon.clusters:
                    self.send_error(404)
                    return
                payload = json.dumps(daemon.review(cluster_name, body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format, *args):  # pylint: disable=redefined-builtin
                LOG.debug(format, *args)

        server = ThreadingHTTPServer(("127.0.0.1", self.config["authn_port"]), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.config["authn"]["cert_file"],
                                self.config["authn"]["key_file"])
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self.authn_server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    # --- EKS signer --------------------------------------------------------------------------
    def run_signer(self):
        keys = {}
        for name, cluster in self.clusters.items():
            if cluster["app_serving_signer"]:
                with open(cluster["pki"]["ca_key_file"], "rb") as key_file, \
                        open(cluster["pki"]["ca_file"], "rb") as cert_file:
                    keys[name] = (pki.load_key(key_file.read()), pki.load_cert(cert_file.read()))
        while not self.stopping.wait(0.3):
            for name, (ca_key, ca_cert) in keys.items():
                try:
                    for csr in signer.process(self.client(name), ca_key, ca_cert):
                        LOG.info("signer acted on CSR %s in %s", csr, name)
                except Exception as exc:  # pylint: disable=broad-except
                    LOG.debug("signer pass on %s failed: %s", name, exc)

    def stop(self, *_):
        self.stopping.set()


def main():
    state_dir = sys.argv[1]
    logging.basicConfig(
        filename=os.path.join(state_dir, "daemon.log"), level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s")
    daemon = Daemon(state_dir)
    signal.signal(signal.SIGTERM, daemon.stop)
    signal.signal(signal.SIGINT, daemon.stop)
    daemon.start_authn()
    daemon.start_aws()
    LOG.info("lab daemon ready")
    daemon.run_signer()
    daemon.authn_server.shutdown()
    daemon.moto.stop()
    time.sleep(0.1)


if __name__ == "__main__":
    main()
