"""Admin access to a lab cluster (client certificate in system:masters) and raw JSON requests."""

import json

import kubernetes


def admin_client(endpoint, pki):
    configuration = kubernetes.client.Configuration()
    configuration.host = endpoint
    configuration.ssl_ca_cert = pki["ca_file"]
    configuration.cert_file = pki["admin_file"]
    configuration.key_file = pki["admin_key_file"]
    configuration.verify_ssl = True
    return kubernetes.client.ApiClient(configuration)


def request(api, method, path, body=None, query=None, content_type="application/json",
            timeout=30):
    """One API request with a dict body; returns the decoded JSON (a dict)."""
    response = api.call_api(
        path, method, query_params=list((query or {}).items()),
        header_params={"Accept": "application/json", "Content-Type": content_type},
        body=body, auth_settings=["BearerToken"], _return_http_data_only=True,
        _preload_content=False,
        _request_timeout=timeout,
    )
    data = response.data
    return json.loads(data) if data else {}
