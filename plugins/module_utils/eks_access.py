# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Access to an EKS cluster: DescribeCluster, and a Kubernetes client for its API server.

By default the Kubernetes client talks to the endpoint that DescribeCluster returns, verifies
TLS against the cluster CA from DescribeCluster, and authenticates with an EKS token made from
the module's own AWS credentials (no kubeconfig, no AWS CLI). Explicit ``kubeconfig``,
``context`` or ``host`` options, or the ``K8S_AUTH_*`` variables, win when given.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.modules import aws_argument_spec
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.eksops.windows.plugins.module_utils import eks_token
from ansible_collections.eksops.windows.plugins.module_utils import errors as eksops_errors
from ansible_collections.eksops.windows.plugins.module_utils.kube import Kube, Urllib3Transport

# The kubernetes package (its client and thousand models) is imported only where a kubeconfig
# file must be read: importing it costs more than half a second per module process.
HAS_KUBERNETES = None
KUBERNETES_IMPORT_ERROR = None
kubernetes = None


def _import_kubernetes():
    global HAS_KUBERNETES, KUBERNETES_IMPORT_ERROR, kubernetes  # pylint: disable=global-statement
    if HAS_KUBERNETES is None:
        try:
            import kubernetes as _kubernetes  # pylint: disable=import-outside-toplevel
            import kubernetes.client  # noqa: F401 pylint: disable=import-outside-toplevel,unused-import
            kubernetes = _kubernetes
            HAS_KUBERNETES = True
        except ImportError:
            HAS_KUBERNETES = False
            KUBERNETES_IMPORT_ERROR = traceback.format_exc()
    return HAS_KUBERNETES


try:
    import botocore
    import botocore.session
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore itself

# Options every module of the collection takes to reach a cluster (see doc fragment `cluster`).
CLUSTER_ARGUMENT_SPEC = dict(
    cluster_name=dict(type="str", required=True, aliases=["name"]),
    kubeconfig=dict(type="raw", fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
    context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
    host=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_HOST"])),
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_API_KEY"])),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"],
                 fallback=(env_fallback, ["K8S_AUTH_SSL_CA_CERT"])),
    kube_validate_certs=dict(type="bool", aliases=["kube_verify_ssl"],
                             fallback=(env_fallback, ["K8S_AUTH_VERIFY_SSL"])),
)

# amazon.aws takes the AWS profile and the access keys from the environment when a task gives
# none (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...) and refuses a profile together with access keys. A
# profile the task names (the roles pass the host's aws_profile) must win over access keys that
# only come from the environment, as botocore does for a profile named in code. So these options
# are parsed without their environment fallbacks, and EksClusterModule applies the fallbacks
# itself, leaving the access keys out when the task named a profile.
PROFILE_OPTIONS = ("profile", "access_key", "secret_key", "session_token")
ACCESS_KEY_OPTIONS = ("access_key", "secret_key", "session_token")
PROFILE_HINT = (
    "The collection's roles use the host's aws_profile (the eksops.windows.eks_clusters inventory "
    "plugin sets it when it listed the cluster with a profile) unless the role's <role>_aws_profile "
    "variable says otherwise: run with the AWS config files the inventory was made with, or set that "
    "variable (empty: the environment's credentials).")

# Error codes worth another try beyond those AWSRetry knows ("Throttling", "RequestLimitExceeded",
# "ServiceUnavailable", "InternalError", ...): the EKS API answers throttling with
# ThrottlingException and its 500/503 with ServerException/ServiceUnavailableException, which
# AWSRetry does not retry. The one retry policy of every AWS call of the collection.
TRANSIENT_ERROR_CODES = ("ThrottlingException", "ServerException", "ServiceUnavailableException",
                         "InternalServerException", "TooManyRequestsException", "RequestTimeout",
                         "RequestTimeoutException", "InternalFailure")
RETRY = AWSRetry.jittered_backoff(retries=8, delay=1, max_delay=20,
                                  catch_extra_error_codes=list(TRANSIENT_ERROR_CODES))
REFRESH_MARGIN_SECONDS = 60


class EksAccessError(Exception):
    """A failure to reach a cluster, with a message that says what to do."""


def partition_of_arn(arn):
    return arn.split(":")[1] if arn and arn.count(":") >= 5 else "aws"


def describe_cluster(module, eks_client, cluster_name):
    """DescribeCluster, normalised; fails the module with a clear message when it can't."""
    try:
        cluster = eks_client.describe_cluster(name=cluster_name, aws_retry=True)["cluster"]
    except is_boto3_error_code("ResourceNotFoundException"):
        module.fail_json(
            msg="EKS cluster '%s' was not found in region %s. Check the cluster name and the "
                "region (option region, or AWS_REGION)." % (cluster_name, module.region))
    except (botocore.exceptions.ClientError,
            botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg="Could not describe EKS cluster '%s' (eks:DescribeCluster)"
                             % cluster_name)
    facts = cluster_facts(cluster, module.region)
    facts["ca_data"] = (cluster.get("certificateAuthority") or {}).get("data")
    return facts


def cluster_facts(cluster, region):
    """The facts of a DescribeCluster answer that modules and the inventory plugin use,
    without the CA (callers that need it take it from the answer themselves)."""
    network = cluster.get("kubernetesNetworkConfig") or {}
    return {
        "name": cluster["name"],
        "arn": cluster.get("arn"),
        "region": region,
        "partition": partition_of_arn(cluster.get("arn")),
        "version": cluster.get("version"),
        "platform_version": cluster.get("platformVersion"),
        "status": cluster.get("status"),
        "endpoint": cluster.get("endpoint"),
        "role_arn": cluster.get("roleArn"),
        "ip_family": network.get("ipFamily", "ipv4"),
        "tags": cluster.get("tags") or {},
        # compute Windows cannot run on (gates.py): EKS Auto Mode and Hybrid Nodes
        "auto_mode": bool((cluster.get("computeConfig") or {}).get("enabled")),
        "hybrid_nodes": bool((cluster.get("remoteNetworkConfig") or {}).get("remoteNodeNetworks")),
    }


def credential_options():
    """amazon.aws's argument specs of PROFILE_OPTIONS without their environment fallbacks, and
    {option: the environment variables its fallback reads, in order}."""
    common = aws_argument_spec()
    spec, variables = {}, {}
    for name in PROFILE_OPTIONS:
        option = dict(common[name])
        fallback = option.pop("fallback", None)
        variables[name] = list(fallback[1]) if fallback else []
        spec[name] = option
    return spec, variables


def credentials_from_environment(params, variables, environ):
    """{option: (value, variable)} for the options of PROFILE_OPTIONS the task left unset, read
    from `environ` as amazon.aws's fallbacks read them (the first variable that is set), except
    the access keys when the task named a profile: that profile's own credentials are used."""
    found = {}
    for name in PROFILE_OPTIONS:
        if params.get(name) is not None:
            continue
        if params.get("profile") and name in ACCESS_KEY_OPTIONS:
            continue
        for variable in variables.get(name, ()):
            if variable in environ:
                found[name] = (environ[variable], variable)
                break
    return found


def public_cluster_facts(cluster):
    """What a module may return about a cluster (the CA is public, but long and unhelpful)."""
    return dict((k, v) for k, v in cluster.items() if k != "ca_data")


def _explicit(params):
    return any(params.get(k) for k in ("kubeconfig", "context", "host"))


def _load_kubeconfig(params, configuration):
    from kubernetes import config as kube_config  # pylint: disable=import-outside-toplevel

    kubeconfig = params.get("kubeconfig")
    context = params.get("context")
    if isinstance(kubeconfig, dict):
        kube_config.load_kube_config_from_dict(
            kubeconfig, context=context, client_configuration=configuration)
    elif kubeconfig or context or not params.get("host"):
        path = os.path.expanduser(kubeconfig) if kubeconfig else None
        kube_config.load_kube_config(
            config_file=path, context=context, client_configuration=configuration)


def _write_ca(module, cluster):
    ca_path = os.path.join(module.tmpdir, "eks-ca-%s.crt" % cluster["name"])
    with open(ca_path, "wb") as handle:
        handle.write(base64.b64decode(cluster["ca_data"]))
    return ca_path


def eks_token_source(module, cluster):
    """A callable that returns a valid EKS token for the cluster, minted again before it
    expires; every token is registered as a secret of the module."""
    sts = module.client("sts")
    state = {}

    def token():
        now = eks_token._utcnow()
        if "expiry" not in state or (state["expiry"] - now).total_seconds() < REFRESH_MARGIN_SECONDS:
            state["token"], state["expiry"] = eks_token.get_token(sts, cluster["name"])
            module.no_log_values.add(state["token"])
        return state["token"]

    return token


def _kubeconfig_transport(module, params):
    """A transport from the kubeconfig/context/host options, read by the kubernetes package's
    own loader (exec plugins, client certificates and tokens as kubectl reads them)."""
    if not _import_kubernetes():
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    configuration = kubernetes.client.Configuration()
    kubeconfig = params.get("kubeconfig")
    if isinstance(kubeconfig, str) and kubeconfig and not os.path.exists(os.path.expanduser(kubeconfig)):
        raise eksops_errors.InputError(
            "The kubeconfig file %s does not exist (option kubeconfig or K8S_AUTH_KUBECONFIG). Give "
            "the path of an existing file, or leave both unset to use the EKS token path."
            % kubeconfig)
    try:
        _load_kubeconfig(params, configuration)
    except Exception as e:  # the kubernetes config loader raises many kinds
        raise eksops_errors.InputError("Could not load the kubeconfig: %s" % e)
    if params.get("host"):
        configuration.host = params["host"]
    if params.get("ca_cert"):
        if not os.path.exists(params["ca_cert"]):
            raise eksops_errors.InputError(
                "The CA file %s (option ca_cert or K8S_AUTH_SSL_CA_CERT) does not exist." % params["ca_cert"])
        configuration.ssl_ca_cert = params["ca_cert"]
    if params.get("kube_validate_certs") is not None:
        configuration.verify_ssl = params["kube_validate_certs"]

    def token():
        if params.get("api_key"):
            return params["api_key"]
        if configuration.refresh_api_key_hook is not None:
            configuration.refresh_api_key_hook(configuration)
        value = (configuration.api_key or {}).get("authorization") or (configuration.api_key or {}).get("BearerToken")
        if value:
            module.no_log_values.add(value)
            return value[7:] if value.startswith("Bearer ") else value
        return None

    return Urllib3Transport(
        configuration.host, ca_file=configuration.ssl_ca_cert, verify=configuration.verify_ssl,
        token=token, cert_file=configuration.cert_file, key_file=configuration.key_file,
        proxy=configuration.proxy), configuration.host


def kube_api(module, cluster):
    """A Kube for `cluster`, and how it authenticates (eks-token, kubeconfig or host)."""
    params = module.params
    if _explicit(params):
        method = "kubeconfig" if (params.get("kubeconfig") or params.get("context")) else "host"
        transport, endpoint = _kubeconfig_transport(module, params)
    else:
        if not cluster.get("endpoint") or not cluster.get("ca_data"):
            raise eksops_errors.EksOpsError(
                "EKS cluster '%s' has no endpoint or CA yet (status %s); wait until it is ACTIVE."
                % (cluster["name"], cluster.get("status")))
        method, endpoint = "eks-token", cluster["endpoint"]
        transport = Urllib3Transport(endpoint, ca_file=_write_ca(module, cluster), verify=True,
                                     token=eks_token_source(module, cluster))
    where = "EKS cluster '%s' (%s)" % (cluster["name"], endpoint)
    return Kube(transport, where), method


class Clients(object):
    """What a procedure step works with: the cluster's facts (DescribeCluster), its Kubernetes
    API (``kube``, a Kube), AWS clients by service name (``aws('iam')``, with retries),
    ``warn``, and ``secret(value)``, which registers a value (a private key, a token) that must
    never be shown (modules wire it to their no_log_values). Modules make one from themselves;
    unit tests make one from fakes and Stubbers."""

    def __init__(self, cluster, kube, aws, warn=None, secret=None):
        self.cluster = cluster
        self._kube = kube
        self._aws = aws
        self.warn = warn or (lambda message: None)
        self.secret = secret or (lambda value: None)

    @property
    def kube(self):
        if callable(self._kube) and not hasattr(self._kube, "request"):
            self._kube = self._kube()
        return self._kube

    def aws(self, service):
        return self._aws(service)


class EksClusterModule(AnsibleAWSModule):
    """AnsibleAWSModule with the cluster options, DescribeCluster and a Kubernetes client."""

    def __init__(self, argument_spec=None, **kwargs):
        credential_spec, variables = credential_options()
        spec = dict(CLUSTER_ARGUMENT_SPEC)
        spec.update(credential_spec)
        spec.update(argument_spec or {})
        super(EksClusterModule, self).__init__(argument_spec=spec, **kwargs)
        self._cluster = None
        self._k8s = None
        self._boto3_session = None
        self._aws_clients = {}
        self.auth_method = None
        found = credentials_from_environment(self.params, variables, os.environ)
        for name, (value, _variable) in found.items():
            self.params[name] = value
            if value and credential_spec[name].get("no_log"):
                self._module.no_log_values.add(value)
        self._check_profile(found.get("profile", (None, None))[1])

    def _check_profile(self, variable):
        """Fail with the profiles there are when the profile is not in the AWS config files
        (botocore would only say "The config profile (x) could not be found")."""
        profile = self.params.get("profile")
        if not profile:
            return
        available = botocore.session.Session().available_profiles
        if profile not in available:
            self.fail_json(msg="%s %s" % (
                eks_token.undefined_profiles_message([profile], available, variable), PROFILE_HINT))

    @property
    def cluster(self):
        if self._cluster is None:
            eks = self.client("eks", retry_decorator=RETRY)
            self._cluster = describe_cluster(self, eks, self.params["cluster_name"])
        return self._cluster

    @property
    def k8s(self):
        """The cluster's Kubernetes API as a Kube (dicts over urllib3)."""
        if self._k8s is None:
            self._k8s, self.auth_method = kube_api(self, self.cluster)
        return self._k8s

    @property
    def clients(self):
        return Clients(self.cluster, lambda: self.k8s,
                       lambda service: self.client(service, retry_decorator=RETRY), self.warn,
                       self._module.no_log_values.add)

    def client(self, service, retry_decorator=None, **extra_params):
        """amazon.aws's client(), but from one boto3 session per module and one client per
        service: a new session per client loads the credential chain and endpoint data again
        (0.1 s each, measured)."""
        key = (service, retry_decorator is not None, tuple(sorted(extra_params.items())))
        if key in self._aws_clients:
            return self._aws_clients[key]
        from ansible_collections.amazon.aws.plugins.module_utils.botocore import (  # pylint: disable=import-outside-toplevel
            get_aws_connection_info,
        )
        from ansible_collections.amazon.aws.plugins.module_utils.retries import (  # pylint: disable=import-outside-toplevel
            RetryingBotoClientWrapper,
        )
        import boto3  # pylint: disable=import-outside-toplevel

        region, endpoint_url, params = get_aws_connection_info(self)
        params.update(extra_params)
        profile = params.pop("profile_name", None)
        config = botocore.config.Config(user_agent="eksops.windows")
        for name in ("config", "aws_config"):
            extra = params.pop(name, None)
            if extra:
                config = config.merge(extra if isinstance(extra, botocore.config.Config)
                                      else botocore.config.Config(**extra))
        try:
            if self._boto3_session is None:
                self._boto3_session = boto3.session.Session(profile_name=profile)
            conn = self._boto3_session.client(service, config=config, region_name=region,
                                              endpoint_url=endpoint_url, **params)
        except botocore.exceptions.NoRegionError:
            self.fail_json(msg="The %s module needs a region and none was found in the options, "
                               "the environment or the AWS config files." % self._name)
        except (ValueError, botocore.exceptions.BotoCoreError) as e:
            self.fail_json_aws(e, msg="Couldn't connect to AWS")
        if retry_decorator is not None:
            conn = RetryingBotoClientWrapper(conn, retry_decorator)
        self._aws_clients[key] = conn
        return conn

    def fail(self, error, **result):
        """Fail the module for one of the domain's typed errors (errors.py): the one place
        that turns them into fail_json / fail_json_aws."""
        details = dict(result)
        details.update(error.details)
        if isinstance(error, eksops_errors.AwsError):
            self.fail_json_aws(error.exception, msg=error.msg, **details)
        self.fail_json(msg=error.msg, **details)

    def run(self, func, *args, **kwargs):
        """Call func(*args, **kwargs); a typed error it raises fails the module."""
        try:
            return func(*args, **kwargs)
        except eksops_errors.EksOpsError as e:
            self.fail(e)

    def warn(self, warning):
        """Warn through AnsibleModule itself. AnsibleAWSModule.warn (amazon.aws 11) also passes
        its warnings to exit_json, which ansible-core 2.21 reports as deprecated; AnsibleModule
        already returns them."""
        self._module.warn(warning)
