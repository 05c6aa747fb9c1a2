"""The fleet report (issue 5) against the lab's fleet scenario (every finding on some cluster),
plus a host that is not an EKS cluster. The JSON is checked against the clusters' state read
independently (Kubernetes API, IAM, EKS); the HTML is opened in headless Chromium, which runs
its sort script, and the DOM it leaves is checked row by row."""

import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from html.parser import HTMLParser

import pytest
from cryptography import x509

from eksopslab.lab import load_scenario
from eksopslab.testing import SCENARIOS, task_results, write_yaml

SCENARIO = SHARED_SCENARIO = "fleet.yml"  # read only: shares its lab start with test_assessment.py
CLUSTERS = tuple(c["name"] for c in load_scenario(os.path.join(SCENARIOS, SCENARIO))["clusters"])
GHOST = "ghost"
GHOST_NAME = 'ghost-<b>&"x"'  # not in EKS, and a name the page must show as text
# a name no EKS cluster can have (the HTML escaping of the report is tested with it): the module
# refuses it before any call, and says what to set
GHOST_ERROR = ("cluster_name %r is not an EKS cluster name (1-100 letters, digits, '-' and '_', starting "
               "with a letter or digit). Set eks_cluster_name on the host (the eksops.windows.eks_clusters "
               "inventory plugin sets it for every cluster it lists), or the module's cluster_name option."
               % GHOST_NAME)
PLAYBOOK = "eksops.windows.fleet_report"
ENTRY_TASK = "Keep the cluster's record for the fleet report"
LEGACY_DEPLOYMENTS = {"vpc-admission-webhook-deployment": "script", "vpc-admission-webhook": "eksctl"}
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability", "--no-pings",
    # Chromium still calls home (updates, accounts) despite the flags above: no name resolves
    # and any other connection goes to a closed port on 127.0.0.1, so nothing leaves the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
    "--virtual-time-budget=2000",
]


@pytest.fixture(scope="module", name="lab")
def fleet_lab(lab_pool):
    return lab_pool.get(SHARED_SCENARIO)  # the lab start test_assessment.py read, when it ran


@pytest.fixture(scope="module", name="ghost_inventory")
def ghost_inventory_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("inventory") / "ghost.yml"
    return write_yaml(path, {"all": {"hosts": {
        GHOST: {"eks_cluster_name": GHOST_NAME, "aws_region": "us-west-2",
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "nameless": {"ansible_connection": "local",
                     "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
    }}})


def run(lab, report_dir, *args, **kwargs):
    return lab.run_playbook(PLAYBOOK, "-e", "fleet_report_dir=%s" % report_dir, *args, **kwargs)


@pytest.fixture(scope="module", name="fleet")
def fleet_run(lab, ghost_inventory, tmp_path_factory):
    """The report of the whole fleet and the ghost, written once for the tests that read it."""
    report_dir = str(tmp_path_factory.mktemp("report") / "out")
    rc, parsed, raw = run(lab, report_dir, "-i", ghost_inventory, "-l", ",".join(CLUSTERS + (GHOST,)))
    assert rc == 0, raw
    with open(os.path.join(report_dir, "fleet-report.json"), encoding="utf-8") as handle:
        document = json.load(handle)
    return {"dir": report_dir, "parsed": parsed, "raw": raw, "json": document,
            "html": os.path.join(report_dir, "fleet-report.html")}


# --- the clusters' state, read without the collection ------------------------------------------

def kube_system(lab, cluster, kind):
    return {o["metadata"]["name"]: o for o in lab.get(cluster, "/%s/namespaces/kube-system/%s" % (
        "api/v1" if kind in ("configmaps", "secrets") else "apis/apps/v1", kind))["items"]}


def policy_attached(lab, cluster):
    info = lab.cluster(cluster)
    iam = lab.boto3_client("iam", info["region"])
    try:
        attached = iam.list_attached_role_policies(RoleName=info["role_arn"].rsplit("/", 1)[1])
    except iam.exceptions.NoSuchEntityException:
        return None  # the cluster role does not exist: nobody can say
    return any(p["PolicyName"] == "AmazonEKSVPCResourceController" for p in attached["AttachedPolicies"])


def real_state(lab, cluster):
    info = lab.cluster(cluster)
    described = lab.boto3_client("eks", info["region"]).describe_cluster(name=cluster)["cluster"]
    configmap = kube_system(lab, cluster, "configmaps").get("amazon-vpc-cni")
    deployments = kube_system(lab, cluster, "deployments")
    secret = kube_system(lab, cluster, "secrets").get("vpc-admission-webhook-certs")
    certificate = None
    if secret:
        cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["cert.pem"]))
        certificate = cert.not_valid_after_utc
    nodes = lab.get(cluster, "/api/v1/nodes")["items"]
    return {
        "version": described["version"], "platform_version": described["platformVersion"],
        "region": info["region"],
        "ipam": ((configmap or {}).get("data") or {}).get("enable-windows-ipam"),
        "policy_attached": policy_attached(lab, cluster),
        "legacy_controller": "vpc-resource-controller" in deployments,
        "flavours": sorted(f for d, f in LEGACY_DEPLOYMENTS.items() if d in deployments),
        "not_after": certificate,
        "node_counts": {os_name: sum(1 for n in nodes if n["metadata"]["labels"]["kubernetes.io/os"] == os_name)
                        for os_name in ("linux", "windows")},
    }


# --- headless Chromium --------------------------------------------------------------------------

def chromium():
    path = shutil.which("chromium")
    if not path:
        pytest.fail("chromium is not installed: run tests/lab/install-system-deps.sh "
                    "(it installs the Debian package chromium)")
    return path


def browse(url, netlog=None):
    """The DOM after the page's scripts ran (--dump-dom), and the URLs of the network requests a
    page started (from Chromium's net log; the browser's own background requests left out)."""
    with tempfile.TemporaryDirectory() as profile:
        netlog = os.path.join(profile, "net.json")
        done = subprocess.run([chromium(), *CHROMIUM_FLAGS, "--user-data-dir=" + profile,
                               "--log-net-log=" + netlog, "--dump-dom", url],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0 and "</html>" in done.stdout, done.stderr[-3000:]
        return done.stdout, page_requests(netlog)


def page_requests(netlog):
    with open(netlog, encoding="utf-8") as handle:
        log = json.load(handle)
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    requested = []
    for event in log["events"]:
        params = event.get("params") or {}
        # Chromium's own requests (updates, sign-in) have no initiator; a page's have its origin
        if event["type"] == start and "url" in params and params.get("initiator") != "not an origin":
            requested.append(params["url"])
    return requested


class Page(HTMLParser):
    """What the tests look at in a report page: the CSP, every URL attribute, the scripts and
    styles, the table head and one entry per body row."""

    URL_ATTRIBUTES = ("src", "href", "action", "formaction", "srcset", "poster", "data", "background")

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.csp, self.urls, self.scripts, self.styles = None, [], [], []
        self.table, self.heads, self.rows = {}, {}, []
        self.tags = []
        self._row = self._cell = self._raw = self._summary = None
        self._in_body = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.urls += [(tag, k, v) for k, v in attrs.items() if k in self.URL_ATTRIBUTES]
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp = attrs["content"]
        elif tag == "table" and attrs.get("id") == "fleet":
            self.table = attrs
        elif tag == "th":
            self.heads[attrs.get("data-col")] = attrs
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = {"attrs": attrs, "cells": {}, "findings": []}
            self.rows.append(self._row)
        elif tag == "td" and self._row is not None:
            self._cell = {"text": "", "sort": attrs.get("data-sort"), "tags": [], "attrs": attrs}
            self._row["cells"][attrs["data-col"]] = self._cell
        elif self._cell is not None:
            self._cell["tags"].append(tag)
            if tag == "li":
                self._row["findings"].append({"id": attrs.get("data-finding"), "summary": ""})
            elif tag == "summary":
                self._summary = self._row["findings"][-1]
        if tag in ("script", "style"):
            self._raw = []
            (self.scripts if tag == "script" else self.styles).append(self._raw)

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "summary":
            self._summary = None
        elif tag in ("script", "style"):
            self._raw = None

    def handle_data(self, data):
        if self._raw is not None:
            self._raw.append(data)
        elif self._cell is not None:
            self._cell["text"] += data
            if self._summary is not None:
                self._summary["summary"] += data

    def names(self):
        return [r["attrs"]["data-cluster"] for r in self.rows]


def csp_source(text):
    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


# --- the run and its JSON -----------------------------------------------------------------------

def test_every_cluster_is_reported_and_the_ghost_as_failed(fleet):
    document = fleet["json"]
    assert sorted(c["name"] for c in document["clusters"]) == sorted(CLUSTERS)
    assert all(c["status"] == "assessed" for c in document["clusters"])
    assert document["failed"] == [{
        "host": GHOST, "name": GHOST_NAME, "region": "us-west-2", "status": "failed",
        "error": GHOST_ERROR}]
    totals = document["totals"]
    assert (totals["clusters"], totals["assessed"], totals["failed"]) == (len(CLUSTERS) + 1, len(CLUSTERS), 1)
    for severity in ("error", "warning", "info"):
        assert totals["findings"][severity] == sum(c["finding_counts"][severity] for c in document["clusters"])
    assert document["collection"]["name"] == "eksops.windows"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", document["generated_at"])


def test_json_carries_each_clusters_real_state(lab, fleet):
    now = datetime.datetime.now(datetime.timezone.utc)
    for record in fleet["json"]["clusters"]:
        name, real = record["name"], real_state(lab, record["name"])
        state = record["state"]
        assert (record["version"], record["platform_version"], record["region"]) == (
            real["version"], real["platform_version"], real["region"]), name
        assert state["enable_windows_ipam"] == real["ipam"], name
        assert state["policy_attached"] == real["policy_attached"], name
        assert state["legacy"]["present"] is real["legacy_controller"], name
        assert sorted(state["legacy"]["flavours"]) == real["flavours"], name
        if real["legacy_controller"]:
            assert "Deployment/kube-system/vpc-resource-controller" in state["legacy"]["objects"], name
            assert state["windows_support"] == "legacy", name
        elif state["windows_support"] == "enabled":  # as strconv.ParseBool reads it
            assert real["ipam"] in ("1", "t", "T", "TRUE", "true", "True"), name
        certificate = state["webhook_certificate"]
        if real["not_after"] is None:
            assert certificate is None, name
        else:
            assert certificate["not_after"] == real["not_after"].strftime("%Y-%m-%dT%H:%M:%SZ"), name
            assert certificate["expired"] is (real["not_after"] < now), name
            assert abs(certificate["days_left"] - (real["not_after"] - now).days) <= 1, name
        assert record["node_counts"] == real["node_counts"], name
        assert set(record["finding_counts"]) == {"error", "warning", "info"}, name
        for severity, number in record["finding_counts"].items():
            assert number == sum(1 for f in record["findings"] if f["severity"] == severity), name
        assert record["mode"] in ("control_plane", "legacy", "not_assessable"), name
        assert record["mode_reason"], name
        assert set(record["preflight"]) == {"control_plane", "legacy"}, name
        assert "linux_nodes" in record["prerequisites"], name


def test_json_keeps_the_assessment_as_the_module_returned_it(fleet):
    """The report adds nothing and drops nothing of the findings: they are the module's, read
    from the play's own results."""
    by_name = {c["name"]: c for c in fleet["json"]["clusters"]}
    entries = task_results(fleet["parsed"], ENTRY_TASK)
    for host in CLUSTERS:
        entry = entries[host]["ansible_facts"]["fleet_report_entry"]
        assert by_name[host] == entry, host
    found = {f["id"] for c in fleet["json"]["clusters"] for f in c["findings"]}
    # the scenario puts every finding of the assessment on some cluster, and one cluster has none
    assert {"historic_unsupported_instance_type", "windows_host_network", "webhook_certificate_expired",
            "webhook_certificate_expiring", "cluster_role_missing", "ipv6_cluster",
            "auto_or_hybrid_compute_only"} <= found
    assert by_name["fleet-ready"]["findings"] == []
    assert fleet["json"]["totals"]["findings_by_id"]["historic_unsupported_instance_type"] == ["fleet-nodes"]
    # every finding names the source of its rule; the clusters of today have no error
    assert all(f["source"] for c in fleet["json"]["clusters"] for f in c["findings"])
    assert by_name["fleet-today"]["finding_counts"]["error"] == 0
    assert by_name["fleet-today"]["findings"] and by_name["fleet-auto"]["finding_counts"]["error"] == 1


def test_summary_lines_and_set_stats(fleet):
    stats = fleet["parsed"]["global_custom_stats"]["eksops_windows_fleet_report"]
    assert set(stats) == set(CLUSTERS) | {GHOST}
    lines = task_results(fleet["parsed"], "Print the cluster's summary")
    for record in fleet["json"]["clusters"]:
        summary = stats[record["name"]]
        counts = record["finding_counts"]
        assert (summary["status"], summary["mode"], summary["windows_support"]) == (
            "assessed", record["mode"], record["state"]["windows_support"])
        assert (summary["errors"], summary["warnings"], summary["info"]) == (
            counts["error"], counts["warning"], counts["info"])
        certificate = record["state"]["webhook_certificate"]
        assert summary["certificate_days_left"] == (certificate["days_left"] if certificate else None)
        assert lines[record["name"]]["msg"] == summary["text"]
        assert summary["text"].startswith("%s (us-west-2, %s/%s): mode %s, windows_support %s" % (
            record["name"], record["version"], record["platform_version"], record["mode"],
            record["state"]["windows_support"]))
    assert stats[GHOST]["status"] == "failed"
    assert lines[GHOST]["msg"].startswith("%s (us-west-2): assessment FAILED: %s" % (GHOST_NAME, GHOST_ERROR[:40]))


# --- the HTML -------------------------------------------------------------------------------------

def expected_order(document, column, descending=False):
    """Rows as the page must sort them: by the column, ties by name, rows without a value last."""
    def value(record):
        if record["status"] != "assessed":
            return None
        if column == "errors":
            return record["finding_counts"]["error"]
        if column == "version":
            return tuple(int(n) for n in re.findall(r"\d+", record["version"])) + tuple(
                int(n) for n in re.findall(r"\d+", record["platform_version"]))
        certificate = record["state"]["webhook_certificate"]
        return certificate["days_left"] if certificate else None

    records = document["clusters"] + document["failed"]
    with_value = sorted((r for r in records if value(r) is not None), key=lambda r: r["name"])
    with_value.sort(key=value, reverse=descending)  # stable: ties keep name order
    without = sorted((r["name"] for r in records if value(r) is None))
    return [r["name"] for r in with_value] + without


def check_rows(page, document):
    records = {r["name"]: r for r in document["clusters"] + document["failed"]}
    assert sorted(page.names()) == sorted(records)
    for row in page.rows:
        record, cells = records[row["attrs"]["data-cluster"]], row["cells"]
        name = record["name"]
        assert cells["cluster"]["text"].startswith(name), name
        assert cells["region"]["text"] == (record["region"] or ""), name
        if record["status"] == "failed":
            assert row["attrs"]["data-status"] == "failed"
            assert cells["mode"]["text"] == "assessment failed"
            assert cells["findings"]["text"] == "assessment failed: " + record["error"]
            assert [cells[c]["text"] for c in ("errors", "warnings", "info", "certificate", "state")] == [""] * 5
            continue
        assert row["attrs"]["data-status"] == "assessed", name
        assert cells["version"]["text"] == "%s / %s" % (record["version"], record["platform_version"]), name
        assert cells["mode"]["text"] == record["mode"], name
        assert cells["mode"]["attrs"]["title"] == record["mode_reason"], name
        state = record["state"]
        assert cells["state"]["text"].startswith(state["windows_support"]), name
        assert ('IPAM: "%s"' % state["enable_windows_ipam"] if state["enable_windows_ipam"] is not None
                else "IPAM: not set") in cells["state"]["text"], name
        for flavour in state["legacy"]["flavours"]:
            assert flavour in cells["state"]["text"], name
        for col, severity in (("errors", "error"), ("warnings", "warning"), ("info", "info")):
            assert cells[col]["text"] == str(record["finding_counts"][severity]), (name, col)
        assert [(f["id"], f["summary"]) for f in row["findings"]] == [
            (f["id"], "%s %s" % (f["severity"], f["title"])) for f in record["findings"]], name
        for finding in record["findings"]:  # the page shows where each rule comes from
            assert "Rule: " + finding["source"] in cells["findings"]["text"], (name, finding["id"])
        if not record["findings"]:
            assert cells["findings"]["text"] == "none", name
        certificate = state["webhook_certificate"]
        if certificate:
            assert str(abs(certificate["days_left"])) in cells["certificate"]["text"], name
            assert certificate["not_after"] in cells["certificate"]["text"], name
            assert ("expired" in cells["certificate"]["text"]) is certificate["expired"], name
        else:
            assert cells["certificate"]["text"] == "", name


def test_the_static_page_has_every_row_without_running_a_script(fleet):
    page = Page(read(fleet["html"]))
    document = fleet["json"]
    assert page.names() == sorted(page.names())  # name order, as written
    check_rows(page, document)
    assert "data-sorted" not in page.table


@pytest.mark.parametrize("spec, column, descending", [
    ("-errors", "errors", True),
    ("version", "version", False),
    ("certificate", "certificate", False),
])
def test_the_page_sorts_by_the_address(fleet, spec, column, descending):
    dom, _requests = browse("file://%s#sort=%s" % (fleet["html"], spec))
    page = Page(dom)
    assert page.table.get("data-sorted") == spec  # the script ran (its CSP hash let it)
    assert page.names() == expected_order(fleet["json"], column, descending)
    assert page.heads[column]["aria-sort"] == ("descending" if descending else "ascending")
    assert page.heads["cluster"]["aria-sort"] == "none"
    check_rows(page, fleet["json"])


def test_names_and_messages_are_shown_as_text(fleet):
    dom, _requests = browse("file://%s#sort=cluster" % fleet["html"])
    page = Page(dom)
    ghost = [r for r in page.rows if r["attrs"]["data-status"] == "failed"][0]
    assert ghost["attrs"]["data-cluster"] == GHOST_NAME
    assert ghost["cells"]["cluster"]["text"] == GHOST_NAME + "host " + GHOST
    assert "b" not in ghost["cells"]["cluster"]["tags"] and "b" not in ghost["cells"]["findings"]["tags"]
    assert "b" not in page.tags
    assert "&lt;b&gt;&amp;&#34;x&#34;" in read(fleet["html"])


def test_the_page_loads_nothing_from_anywhere(fleet):
    text = read(fleet["html"])
    page = Page(text)
    policy = dict((d.strip().split(" ", 1) + [""])[:2] for d in page.csp.split(";") if d.strip())
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == csp_source("".join(page.scripts[0]))
    assert policy["style-src"] == csp_source("".join(page.styles[0]))
    assert len(page.scripts) == 1 and len(page.styles) == 1
    assert {"link", "img", "iframe", "object", "embed", "base", "form"}.isdisjoint(page.tags)
    assert all(value.startswith("#sort=") for _tag, _attr, value in page.urls), page.urls
    assert "url(" not in "".join(page.styles[0]) and "@import" not in "".join(page.styles[0])
    _dom, requests = browse("file://%s#sort=-errors" % fleet["html"])
    assert requests == []


def test_the_pages_policy_blocks_remote_loads(fleet, tmp_path):
    """The page's own CSP, on a page that tries to load from the network: nothing is requested;
    without the policy the same page is seen requesting (so the check above can fail)."""
    csp = Page(read(fleet["html"])).csp
    remote = ('<img src="http://127.0.0.1:9/probe.png">'
              '<script src="http://127.0.0.1:9/probe.js"></script>'
              '<link rel="stylesheet" href="http://127.0.0.1:9/probe.css">')
    guarded, bare = tmp_path / "guarded.html", tmp_path / "bare.html"
    guarded.write_text('<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
                       'content="%s">%s</head><body></body></html>' % (csp.replace('"', "&quot;"), remote))
    bare.write_text("<!DOCTYPE html><html><head>%s</head><body></body></html>" % remote)
    assert browse("file://%s" % guarded)[1] == []
    assert any(url.startswith("http://127.0.0.1:9/probe") for url in browse("file://%s" % bare)[1])


# --- check mode, diff, failing the play -----------------------------------------------------------

def test_check_mode_writes_no_file(lab, tmp_path):
    report_dir = tmp_path / "never"
    rc, parsed, raw = run(lab, report_dir, "-l", "fleet-ready", check=True)
    assert rc == 0, raw
    assert not report_dir.exists()
    for task in ("Create the report directory", "Write fleet-report.json", "Write fleet-report.html"):
        assert task_results(parsed, task)["fleet-ready"]["changed"] is True, task


def test_a_second_run_differs_only_by_its_time_stamp(lab, tmp_path):
    report_dir = tmp_path / "twice"
    rc, _parsed, raw = run(lab, report_dir, "-l", "fleet-ready,fleet-cni")
    assert rc == 0, raw
    rc, parsed, raw = run(lab, report_dir, "-l", "fleet-ready,fleet-cni", "--diff")
    assert rc == 0, raw
    for task, stamp in (("Write fleet-report.json", '"generated_at"'), ("Write fleet-report.html", "Generated ")):
        diff = task_results(parsed, task)["fleet-ready"]["diff"][0]
        before, after = diff["before"].splitlines(), diff["after"].splitlines()
        assert len(before) == len(after), task
        changed = [(b, a) for b, a in zip(before, after) if b != a]
        assert len(changed) <= 1, changed
        assert all(stamp in b and stamp in a for b, a in changed), changed


def test_fail_on_error_fails_the_failed_clusters_after_writing_the_report(lab, ghost_inventory, tmp_path):
    report_dir = tmp_path / "strict"
    rc, parsed, raw = run(lab, report_dir, "-i", ghost_inventory, "-l", "fleet-ready,%s,nameless" % GHOST,
                          "-e", "fleet_report_fail_on_error=true")
    assert rc != 0, raw
    failing = task_results(parsed, "Fail the cluster whose assessment failed")
    assert failing[GHOST]["failed"] is True
    assert GHOST_ERROR in failing[GHOST]["msg"]
    assert "listed as failed in the fleet report" in failing[GHOST]["msg"]
    assert failing["fleet-ready"].get("skipped") is True
    assert parsed["stats"]["fleet-ready"]["failures"] == 0
    document = json.loads(read(report_dir / "fleet-report.json"))
    assert [c["name"] for c in document["clusters"]] == ["fleet-ready"]
    # nameless has no eks_cluster_name: it fails before its assessment, and is still reported
    errors = {f["host"]: f["error"] for f in document["failed"]}
    assert set(errors) == {GHOST, "nameless"}
    assert errors[GHOST] == GHOST_ERROR
    assert errors["nameless"].startswith("no assessment result: the host failed before its assessment ran")
    page = Page(read(report_dir / "fleet-report.html"))
    assert sorted(page.names()) == sorted(["fleet-ready", GHOST_NAME, "nameless"])


def test_without_iam_the_policy_is_reported_unknown(lab, tmp_path):
    report_dir = tmp_path / "auditor"
    rc, _parsed, raw = run(lab, report_dir, "-l", "fleet-ready", env=lab.aws_env("auditor"))
    assert rc == 0, raw
    record = json.loads(read(report_dir / "fleet-report.json"))["clusters"][0]
    assert record["state"]["policy_attached"] is None
    assert record["state"]["windows_support"] == "unknown"
    row = Page(read(report_dir / "fleet-report.html")).rows[0]
    assert "policy: unknown" in row["cells"]["state"]["text"]
    assert real_state(lab, "fleet-ready")["policy_attached"] is True  # it is attached, only unreadable


def test_a_relative_report_dir_is_refused_before_any_assessment(lab):
    rc, parsed, raw = run(lab, "relative/dir", "-l", "fleet-ready")
    assert rc != 0, raw
    msg = task_results(parsed, "Check where the report goes")["fleet-ready"]["msg"]
    assert "fleet_report_dir must be an absolute path of a directory on the controller, got 'relative/dir'" in msg
    assert task_results(parsed, "Assess the cluster for Windows support") == {}


def test_an_existing_report_directory_keeps_its_mode_and_a_new_one_is_0755(lab, tmp_path):
    """Issue 11, item 9: a private (0700) report directory is not widened to 0755."""
    private, new = tmp_path / "private", tmp_path / "new"
    private.mkdir()
    os.chmod(private, 0o700)
    for report_dir in (private, new):
        rc, parsed, raw = run(lab, report_dir, "-l", "fleet-ready")
        assert rc == 0, raw
        assert json.loads(read(report_dir / "fleet-report.json"))["clusters"][0]["name"] == "fleet-ready"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o755
    rc, parsed, raw = run(lab, private, "-l", "fleet-ready")
    assert rc == 0, raw
    assert task_results(parsed, "Create the report directory")["fleet-ready"]["changed"] is False
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o700
