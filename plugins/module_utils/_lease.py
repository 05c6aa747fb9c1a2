# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run at a time per cluster: the ``coordination.k8s.io/v1`` Lease ``kube-system/eksops-windows``.

Every procedure that writes (enable, disable, the webhook certificate, legacy install and
remove, prefix delegation, workload fixes) holds this one Lease while it writes, so two of them
never interleave on one cluster. How (``held``):

- On entry the Lease is read once (a GET, no write): its resourceVersion is the version of the
  world this run's reads start from.
- Nothing is taken until the run's first write: a run with nothing to do writes no Lease. The
  first write request (any Kubernetes request but GET and dry runs, any AWS operation but
  Describe*/List*/Get*) first takes the Lease with a resourceVersion precondition: a POST when
  it did not exist (409: another run created it), else a PUT with the resourceVersion read on
  entry (409: another run took or released it in between). Either 409 means another run wrote
  since this run began reading, so this run refuses before its first write: nothing written.
- A Lease whose holder is set and whose ``renewTime + leaseDurationSeconds`` is in the future
  belongs to a live run: refused, naming it. One whose time has passed is stale (a run that
  died): taken over by the same PUT, so of two takers only one wins.
- While held, any request made ``RENEW_AFTER`` seconds after the last renewal first renews the
  Lease (PUT with our resourceVersion). The procedures' waits poll every few seconds (add-on
  update, CSR signing, rollouts), so a run that is alive renews long before ``DURATION``.
  A renewal answered 409 means another run took the Lease over: the run stops before writing.
- On exit, also on failure, the Lease is released by a PUT with our resourceVersion that
  clears ``holderIdentity`` (only our own: a 409 leaves another run's Lease alone). The object
  stays, so its resourceVersion keeps counting: deleting it would let a run that read before
  another run's create-write-delete create it again unnoticed.

Expiry compares the holder's ``renewTime`` with this controller's clock (controllers of one
fleet keep NTP time). client-go's leaderelection instead waits a full lease duration watching
the record; a one-shot run cannot wait that long, and the precondition makes the takeover
itself safe.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import datetime
import os
import socket
import time
import uuid

from ansible_collections.eksops.windows.plugins.module_utils._eks_access import Clients
from ansible_collections.eksops.windows.plugins.module_utils._errors import KubeError, LeaseError
from ansible_collections.eksops.windows.plugins.module_utils._kube import Kube

NAME = "eksops-windows"
NAMESPACE = "kube-system"
API_VERSION = "coordination.k8s.io/v1"
# Seconds a Lease lives without renewal. The longest gap between two requests of any procedure
# is a poll delay (5 s), a read timeout (30 s) or a Retry-After (10 s, 4 times): far below 80 s.
DURATION = 120
RENEW_AFTER = 40
ANNOTATION = "eksops.windows/"
READ_ONLY_AWS = ("Describe", "List", "Get")
WHERE = "Lease %s/%s" % (NAMESPACE, NAME)


def _micro_time(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _epoch(value):
    """Seconds since the epoch of a MicroTime/Time string; None when absent or unreadable."""
    if not value:
        return None
    text = value.rstrip("Z")
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
        try:
            moment = datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return moment.replace(tzinfo=datetime.timezone.utc).timestamp()
    return None


def identity():
    """Who and where: the controller's host name, the pid and a random id (the procedure is
    in the annotation eksops.windows/procedure)."""
    return "%s/pid-%d/%s" % (socket.gethostname(), os.getpid(), uuid.uuid4().hex[:12])


def holder_of(record, now):
    """The live holder of a Lease record as a dict (identity, procedure, acquired, renewed,
    expires, expires_in), or None when the Lease is free or stale."""
    spec = (record or {}).get("spec") or {}
    holder = spec.get("holderIdentity")
    if not holder:
        return None
    renewed = _epoch(spec.get("renewTime")) or _epoch(spec.get("acquireTime")) or 0
    expires = renewed + int(spec.get("leaseDurationSeconds") or DURATION)
    if expires <= now:
        return None
    return describe(record, expires, now)


def describe(record, expires=None, now=None):
    """The facts of a Lease record for messages and the result's ``lease`` key: identity,
    procedure, acquired, renewed, expires, duration (and expires_in, given `now`)."""
    spec = (record or {}).get("spec") or {}
    notes = ((record or {}).get("metadata") or {}).get("annotations") or {}
    if expires is None:
        renewed = _epoch(spec.get("renewTime")) or 0
        expires = renewed + int(spec.get("leaseDurationSeconds") or DURATION)
    found = {
        "identity": spec.get("holderIdentity") or notes.get(ANNOTATION + "last-holder"),
        "procedure": notes.get(ANNOTATION + "procedure") or "unknown",
        "acquired": spec.get("acquireTime"),
        "renewed": spec.get("renewTime"),
        "expires": _micro_time(expires),
        "duration": int(spec.get("leaseDurationSeconds") or DURATION),
    }
    if now is not None:
        found["expires_in"] = max(0, int(expires - now + 0.999))
    return found


class Lease(object):
    """The collection's Lease on one cluster, for one run of `procedure`. `kube` is a Kube
    that is not guarded (the Lease's own requests), `clock` is time.time."""

    def __init__(self, kube, cluster_name, procedure, holder=None, clock=time.time,
                 duration=DURATION, warn=None):
        self.kube = kube
        self.cluster_name = cluster_name
        self.procedure = procedure
        self.holder = holder or identity()
        self.clock = clock
        self.duration = duration
        self.warn = warn or (lambda message: None)
        self.record = None  # as read on entry, then as we last wrote it
        self.observed = False
        self.held = False
        self.renewed_at = None

    # --- reads ---------------------------------------------------------------------------
    def observe(self):
        """Read the Lease (the resourceVersion this run's reads start from); its live holder
        when another run holds it, else None."""
        try:
            self.record = self.kube.get("Lease", NAME, NAMESPACE, what="Reading " + WHERE)
        except KubeError as e:
            if e.status not in (401, 403):
                raise KubeError("%s Nothing was written." % e.msg, status=e.status)
            raise KubeError("%s Nothing was written. Every procedure that writes reads %s first: the "
                            "role needs get, create and update on leases in kube-system." % (e.msg, WHERE),
                            status=e.status)
        self.observed = True
        other = holder_of(self.record, self.clock())
        return other if other and other["identity"] != self.holder else None

    def _current(self):
        try:
            return self.kube.get("Lease", NAME, NAMESPACE, what="Reading " + WHERE)
        except KubeError:
            return None

    # --- writes --------------------------------------------------------------------------
    def _body(self, base, now, acquire):
        spec = dict(((base or {}).get("spec") or {}))
        meta = dict(((base or {}).get("metadata") or {}))
        notes = dict(meta.get("annotations") or {})
        if acquire:
            if spec.get("holderIdentity") and spec.get("holderIdentity") != self.holder:
                spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
            spec["acquireTime"] = _micro_time(now)
            notes[ANNOTATION + "procedure"] = self.procedure
            notes[ANNOTATION + "last-holder"] = self.holder
        spec.update(holderIdentity=self.holder, leaseDurationSeconds=self.duration,
                    renewTime=_micro_time(now))
        spec.setdefault("leaseTransitions", 0)
        meta.update(name=NAME, namespace=NAMESPACE, annotations=notes)
        meta.setdefault("labels", {})["app.kubernetes.io/managed-by"] = "eksops.windows"
        return {"apiVersion": API_VERSION, "kind": "Lease", "metadata": meta, "spec": spec}

    def acquire(self, step):
        """Take the Lease before `step` (the first write, as messages name it). Raises
        LeaseError when another run holds it or took it since observe()."""
        if not self.observed:
            self.observe()
        now = self.clock()
        other = holder_of(self.record, now)
        if other and other["identity"] != self.holder:
            raise self._refusal(step, other)
        stale = (self.record or {}).get("spec", {}).get("holderIdentity")
        body = self._body(self.record, now, acquire=True)
        try:
            if self.record is None:
                written = self.kube.create(body, what="Creating " + WHERE)
            else:
                written = self.kube.replace(body, what="Taking " + WHERE)
        except KubeError as e:
            if e.status != 409:
                raise KubeError("%s (taking %s before %s, this run's first write). Nothing was "
                                "written. The role needs get, create and update on leases in "
                                "kube-system." % (e.msg, WHERE, step), status=e.status)
            current = self._current()
            raise self._refusal(step, holder_of(current, self.clock()), describe(current))
        if stale and stale != self.holder:
            self.warn("EKS cluster '%s': %s took over the stale %s of %s (not renewed for %d s; "
                      "that run is gone)." % (self.cluster_name, self.procedure, WHERE, stale, self.duration))
        self.record, self.held, self.renewed_at = written, True, now
        return written

    def renew(self, step):
        """Renew the held Lease (before `step`). Raises LeaseError when another run took it."""
        now = self.clock()
        try:
            written = self.kube.replace(self._body(self.record, now, acquire=False), what="Renewing " + WHERE)
        except KubeError as e:
            if e.status != 409:
                raise
            self.held = False
            current = self._current()
            raise LeaseError(
                "EKS cluster '%s': %s stopped before %s: another run (%s) took over %s, which this "
                "run had not renewed for more than %d s. Writes before this point are done; check "
                "the cluster's state (or run %s again once that run has finished)."
                % (self.cluster_name, self.procedure, step,
                   (describe(current) or {}).get("identity"), WHERE, self.duration, self.procedure),
                lease=describe(current, now=now))
        self.record, self.renewed_at = written, now
        return written

    def release(self):
        """Clear holderIdentity with our resourceVersion: only our own Lease. Never raises:
        a Lease left behind expires by itself; the warning says when."""
        if not self.held:
            return False
        self.held = False
        body = self._body(self.record, self.clock(), acquire=False)
        body["spec"].pop("holderIdentity", None)
        try:
            self.record = self.kube.replace(body, what="Releasing " + WHERE)
            return True
        except KubeError as e:
            if e.status == 409:
                self.warn("EKS cluster '%s': %s did not release %s: another run holds it now."
                          % (self.cluster_name, self.procedure, WHERE))
            else:
                self.warn("EKS cluster '%s': %s could not release %s (%s); it expires by itself "
                          "%d s after its last renewal." % (self.cluster_name, self.procedure, WHERE,
                                                            e.msg, self.duration))
            return False

    def _refusal(self, step, other, last=None):
        """LeaseError: `other` (a live holder) holds the Lease, or, with `last` (the Lease as it
        is now), another run took it after this run began reading."""
        if not other:
            last = last or {}
            return LeaseError(
                "EKS cluster '%s': %s refused before its first write (%s): another run (%s, by "
                "%s) took %s after this run had begun reading the cluster, so what this run read "
                "may be out of date. Nothing was written. Run %s again."
                % (self.cluster_name, self.procedure, step, last.get("procedure"),
                   last.get("identity"), WHERE, self.procedure), lease=last)
        return LeaseError(
            "EKS cluster '%s': %s refused before its first write (%s): another run holds %s: "
            "%s by %s, since %s, renewed %s, expires %s (in %s s). Nothing was written. Wait for "
            "that run to finish and run again. If you know that run is dead, delete the Lease "
            "(kubectl -n %s delete lease %s) or wait: a Lease not renewed for %s s expires and "
            "the next run takes it over."
            % (self.cluster_name, self.procedure, step, WHERE, other["procedure"],
               other["identity"], other["acquired"], other["renewed"], other["expires"],
               other["expires_in"], NAMESPACE, NAME, other["duration"]), lease=other)


class Guard(object):
    """Takes the Lease at the first write and renews it on any later request."""

    def __init__(self, lease):
        self.lease = lease
        self.closed = False

    def before(self, write, step):
        lease = self.lease
        if write and self.closed:
            raise LeaseError("EKS cluster '%s': %s tried to write (%s) after releasing %s; "
                             "nothing was written. This is a bug of the collection: report it."
                             % (lease.cluster_name, lease.procedure, step, WHERE))
        if write and not lease.held:
            lease.acquire(step)
        elif lease.held and lease.clock() - lease.renewed_at >= RENEW_AFTER:
            lease.renew(step)


class GuardedKube(Kube):
    """A Kube whose requests pass the Guard first: the same transport, cluster and retries."""

    def __init__(self, kube, guard):
        super(GuardedKube, self).__init__(kube.transport, kube.where, kube.retries, kube.sleep)
        self.guard = guard

    def request(self, method, path, what, body=None, query=None, **kwargs):
        write = method not in ("GET", "HEAD") and not (query or {}).get("dryRun")
        self.guard.before(write, what)
        return super(GuardedKube, self).request(method, path, what, body=body, query=query, **kwargs)


def _guard_aws(client, guard):
    """Register the Guard on an AWS client: botocore's provide-client-params event, the first
    of a call, before anything is sent (and before a Stubber answers)."""

    def before_call(model=None, **_kwargs):
        service = model.service_model.endpoint_prefix
        guard.before(not model.name.startswith(READ_ONLY_AWS), "%s:%s" % (service, model.name))

    client.meta.events.register_first("provide-client-params.*.*", before_call,
                                      unique_id="eksops-windows-lease-%d" % id(guard))
    return client


@contextlib.contextmanager
def held(clients, procedure, check_mode, writes=True, clock=time.time):
    """Run a procedure's steps under the Lease: yields the Clients to pass to them. Check mode
    (and a run that cannot write, `writes=False`) takes nothing: check mode reads the Lease and
    warns when another run holds it. Otherwise the Lease is taken at the first write and
    released on exit, also when a step fails."""
    name = clients.cluster["name"]
    if not writes:
        yield clients
        return
    lease = Lease(clients.kube, name, procedure, clock=clock, warn=clients.warn)
    if check_mode:  # an identity that may only read can still run check mode
        try:
            other = lease.observe()
        except KubeError as e:
            clients.warn("EKS cluster '%s': %s" % (name, e.msg))
            other = None
        if other:
            clients.warn("EKS cluster '%s': another run holds %s (%s by %s, expires %s); a real run "
                         "of %s now would be refused." % (name, WHERE, other["procedure"],
                                                          other["identity"], other["expires"], procedure))
        yield clients
        return
    lease.observe()
    guard = Guard(lease)
    kube = GuardedKube(clients.kube, guard)
    guarded = Clients(clients.cluster, kube, lambda service: _guard_aws(clients.aws(service), guard),
                      clients.warn, clients.secret)
    try:
        yield guarded
    finally:
        guard.closed = True
        lease.release()
