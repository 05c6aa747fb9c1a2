"""Interrupting a run at a chosen request, for tests of what a re-run does after a run died.

`run_killed_after` starts ansible-playbook, tails the audit log of one cluster (the API server
writes an event when a response is complete: --audit-log-mode=blocking, RequestReceived
omitted), and SIGKILLs the whole process tree (ansible-playbook, its workers and the module) as
soon as an event matches. `hold_deletion` keeps an object the run creates from going
away (a finalizer), so that the run waits on it and cannot get past the next request before the
kill lands.
"""

import contextlib
import json
import os
import signal
import subprocess
import threading
import time

from . import kube

FINALIZER = "eksops-lab/hold"


def _events(path, offset):
    """(new offset, audit events written after `offset`)."""
    if not os.path.exists(path):
        return offset, []
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    complete = data.rfind(b"\n") + 1
    events = [json.loads(line) for line in data[:complete].splitlines() if line.strip()]
    return offset + complete, events


def _children():
    """{parent pid: [child pids]} of every process on the machine (/proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                stat = handle.read()
        except OSError:  # gone meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def _tree(pid):
    children, found, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def kill_tree(pid):
    """SIGKILL `pid` and every process under it. Ansible's workers call setsid(), so a kill of
    the process group would miss them and the module they run: the tree is stopped first (no
    new children), then killed."""
    stopped = []
    for _round in range(3):
        for each in _tree(pid):
            if each not in stopped:
                try:
                    os.kill(each, signal.SIGSTOP)
                    stopped.append(each)
                except ProcessLookupError:
                    pass
    for each in stopped:
        try:
            os.kill(each, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_killed_after(lab, cluster, matches, argv, env, cwd, timeout=180):
    """Run `argv`; kill its whole process tree when an audit event of `cluster` satisfies
    `matches(verb, requestURI, code)`. Returns (killed, the matching (verb, uri, code) or
    None, output)."""
    audit = lab.lab.path("clusters", cluster, "audit.log")
    offset = os.path.getsize(audit) if os.path.exists(audit) else 0
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    seen = None
    try:
        while process.poll() is None and seen is None:
            if time.monotonic() > deadline:
                raise AssertionError("the run neither ended nor made the request within %d s" % timeout)
            offset, events = _events(audit, offset)
            for event in events:
                request = (event["verb"], event["requestURI"],
                           event.get("responseStatus", {}).get("code"))
                if matches(*request):
                    seen = request
                    break
            time.sleep(0.02)
        if seen is not None:
            kill_tree(process.pid)
    finally:
        process.wait(timeout=30)
        reader.join(timeout=10)
    return seen is not None, seen, "".join(output)


@contextlib.contextmanager
def hold_deletion(lab, cluster, collection_path, name, when=lambda obj: True, timeout=60):
    """While in the block, put a finalizer on `collection_path`/`name` as soon as it exists and
    `when(obj)` holds (a thread polls every 20 ms; `when` lets the run's own writes of the
    object pass first), so that its deletion waits; on leaving, remove the finalizer again (the
    object then goes). Yields a dict whose `held` says whether it was caught."""
    state = {"held": False, "stop": False}

    def watch():
        api = lab.admin_api(cluster)
        try:
            end = time.monotonic() + timeout
            while not state["stop"] and time.monotonic() < end:
                try:
                    found = kube.request(api, "GET", f"{collection_path}/{name}")
                    if when(found):
                        kube.request(api, "PATCH", f"{collection_path}/{name}",
                                     body={"metadata": {"finalizers": [FINALIZER]}},
                                     content_type="application/merge-patch+json")
                        state["held"] = True
                        return
                except Exception:  # not there yet
                    pass
                time.sleep(0.02)
        finally:
            api.close()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state["stop"] = True
        thread.join(timeout=10)
        if state["held"]:
            api = lab.admin_api(cluster)
            try:
                kube.request(api, "PATCH", f"{collection_path}/{name}",
                             body={"metadata": {"finalizers": None}},
                             content_type="application/merge-patch+json")
            except Exception:  # already gone
                pass
            finally:
                api.close()
