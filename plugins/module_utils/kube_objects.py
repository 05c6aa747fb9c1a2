# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes object helpers over the typed clients (no API discovery)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from kubernetes.client.exceptions import ApiException
except ImportError:
    ApiException = None  # reported by EksClusterModule.kube

MERGE_PATCH = "application/merge-patch+json"


def read_or_none(module, what, func, *args, **kwargs):
    """Call a typed-client read; None when the object does not exist (404)."""
    try:
        return func(*args, **kwargs)
    except ApiException as e:
        if e.status == 404:
            return None
        return module.kube_call(what, _raise, e)


def delete_or_gone(module, what, func, *args, **kwargs):
    """Call a typed-client delete; True when it deleted, False when the object was already
    gone (404)."""
    try:
        func(*args, **kwargs)
    except ApiException as e:
        if e.status == 404:
            return False
        return module.kube_call(what, _raise, e)
    return True


def _raise(error):
    raise error


def container_env(workload, container_name=None):
    """{name: value} of the literal env of a workload's first (or named) container."""
    containers = workload.spec.template.spec.containers or []
    for container in containers:
        if container_name is None or container.name == container_name:
            return dict((e.name, e.value) for e in (container.env or []) if e.value is not None)
    return {}


def raw(module, what, api, method, path, body=None, missing_ok=False,
        content_type="application/json", raise_statuses=()):
    """One request with a JSON body, for APIs the typed clients lack (certificates v1beta1)
    and for fast raw JSON; returns the decoded object, or None on 404 when `missing_ok`.
    Answers whose status is in `raise_statuses` (e.g. 409) reach the caller as ApiException
    instead of failing the module."""
    import json  # pylint: disable=import-outside-toplevel

    def call():
        response = api.call_api(
            path, method, header_params={"Accept": "application/json",
                                         "Content-Type": content_type},
            body=body, auth_settings=["BearerToken"], _return_http_data_only=True,
            _preload_content=False)
        return json.loads(response.data) if response.data else {}

    try:
        return call()
    except ApiException as e:
        if missing_ok and e.status == 404:
            return None
        if e.status in raise_statuses:
            raise
        return module.kube_call(what, _raise, e)
    except Exception as e:  # connection errors are explained by kube_call
        return module.kube_call(what, _raise, e)
