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
import re
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule, aws_argument_spec
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.eksops.windows.plugins.module_utils import (
    _certificates as certificates,
    _eks_token as eks_token,
    _errors as eksops_errors,
)
from ansible_collections.eksops.windows.plugins.module_utils._kube import Kube, Urllib3Transport

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
    import botocore.loaders
    import botocore.session
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore itself

# The AWS services the collection's steps call (Clients.aws and EksClusterModule.client).
AWS_SERVICES = ("eks", "ec2", "iam", "sts", "ssm")
# botocore's loaders of service models, one per data path, shared by every session this process
# makes. A session's own loader reads and parses each service's model again (EC2's is large): a
# session with clients of the five services cost 0.35 CPU-second, 0.04 with the models loaded.
# The modules run in workers forked from the controller's process, which loads the models once
# (warm_aws_models, when the action plugins are loaded), so no host of a play loads them again.
_LOADERS = {}


def aws_session(profile=None):
    """A boto3 session as ``boto3.session.Session(profile_name=profile)`` makes it, but with the
    process's shared loader of service models for its data path (AWS_DATA_PATH or the
    profile's data_path)."""
    import boto3  # pylint: disable=import-outside-toplevel
    core = botocore.session.Session(profile=profile)
    data_path = core.get_config_variable("data_path")
    if data_path not in _LOADERS:
        _LOADERS[data_path] = botocore.loaders.create_loader(data_path)
    loader = _LOADERS[data_path]
    core.register_component("data_loader", loader)
    session = boto3.session.Session(botocore_session=core)
    # boto3 appends its own data directory to the loader's search paths for every session
    seen = set()
    loader.search_paths[:] = [p for p in loader.search_paths if not (p in seen or seen.add(p))]
    return session


def warm_aws_models():
    """Load the models of AWS_SERVICES into the shared loader by making a client of each (no
    request is sent). Best effort: a configuration that cannot make clients (a profile that does
    not exist, say) is left for the module to report on its host."""
    try:
        session = aws_session()
        for service in AWS_SERVICES:
            session.client(service, region_name="us-east-1", aws_access_key_id="warm",
                           aws_secret_access_key="warm")
    except Exception:  # pylint: disable=broad-except
        return False
    return True


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
    cluster_identity=dict(type="str", choices=["verify", "skip"], default="verify",
                          fallback=(env_fallback, ["EKSOPS_CLUSTER_IDENTITY"])),
    kube_connect_timeout=dict(type="float", default=10.0,
                              fallback=(env_fallback, ["EKSOPS_KUBE_CONNECT_TIMEOUT"])),
    kube_read_timeout=dict(type="float", default=30.0,
                           fallback=(env_fallback, ["EKSOPS_KUBE_READ_TIMEOUT"])),
)
# Bounds of the timeout options, in seconds: above zero (urllib3 would wait for ever on 0 or
# None), and at most ten minutes (a read longer than that is a hung server, not a slow one).
TIMEOUT_RANGE = (0.5, 600.0)
# EKS cluster names: 1-100 characters, a letter or digit first, then letters, digits, - and _
# (CreateCluster's name constraint).
CLUSTER_NAME_PATTERN = r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$"
CLUSTER_NAME_HINT = (
    "Set eks_cluster_name on the host (the eksops.windows.eks_clusters inventory plugin sets it "
    "for every cluster it lists), or the module's cluster_name option.")

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
        # compute Windows cannot run on (_gates.py): EKS Auto Mode and Hybrid Nodes
        "auto_mode": bool((cluster.get("computeConfig") or {}).get("enabled")),
        "hybrid_nodes": bool((cluster.get("remoteNetworkConfig") or {}).get("remoteNodeNetworks")),
        # how IAM principals reach Kubernetes (node identity: _node_identity.py); EKS clusters
        # made before access entries existed answer no accessConfig and read aws-auth only
        "authentication_mode": (cluster.get("accessConfig") or {}).get("authenticationMode")
        or "CONFIG_MAP",
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


def option_problems(params):
    """What is wrong with the cluster options as given (a message), or None: an empty or
    malformed cluster name, a timeout out of TIMEOUT_RANGE."""
    name = params.get("cluster_name")
    if name is None or not str(name).strip():
        return "cluster_name is empty. %s" % CLUSTER_NAME_HINT
    if not re.match(CLUSTER_NAME_PATTERN, name):
        return ("cluster_name %r is not an EKS cluster name (1-100 letters, digits, '-' and '_', "
                "starting with a letter or digit). %s" % (name, CLUSTER_NAME_HINT))
    low, high = TIMEOUT_RANGE
    for option in ("kube_connect_timeout", "kube_read_timeout"):
        value = params.get(option)
        if value is not None and not low <= value <= high:
            return ("%s=%s is out of range: give seconds from %s to %s (the default is %s)."
                    % (option, value, low, high, CLUSTER_ARGUMENT_SPEC[option]["default"]))
    return None


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


def _kubeconfig_transport(module, params, timeouts):
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
        raise eksops_errors.InputError(
            "Could not load %s: %s. Fix that file (a path it names must exist on the controller), "
            "or leave kubeconfig, context and host unset to use the EKS token path."
            % (_source(params), e))
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
        proxy=configuration.proxy, **timeouts), configuration.host


def kube_api(module, cluster):
    """A Kube for `cluster`, and how it authenticates (eks-token, kubeconfig or host). With a
    kubeconfig or host, the API server is proven to be that cluster (prove_cluster) before the
    first request; the EKS token path is that cluster by construction (its endpoint and CA come
    from DescribeCluster)."""
    params = module.params
    timeouts = dict(connect_timeout=params.get("kube_connect_timeout") or 10.0,
                    read_timeout=params.get("kube_read_timeout") or 30.0)
    if not cluster.get("ca_data") or (not _explicit(params) and not cluster.get("endpoint")):
        raise eksops_errors.EksOpsError(
            "EKS cluster '%s' has no endpoint or CA yet (status %s); wait until it is ACTIVE."
            % (cluster["name"], cluster.get("status")))
    if _explicit(params):
        method = "kubeconfig" if (params.get("kubeconfig") or params.get("context")) else "host"
        transport, endpoint = _kubeconfig_transport(module, params, timeouts)
    else:
        method, endpoint = "eks-token", cluster["endpoint"]
        transport = Urllib3Transport(endpoint, ca_file=_write_ca(module, cluster), verify=True,
                                     token=eks_token_source(module, cluster), **timeouts)
    where = "EKS cluster '%s' (%s)" % (cluster["name"], endpoint)
    if method == "eks-token":
        return Kube(transport, where, proof=lambda kube: "eks-token"), method
    source = _source(params)
    return Kube(transport, where, proof=lambda kube: prove_cluster(
        kube, cluster, endpoint, source, params.get("cluster_identity"), module.warn)), method


def _source(params):
    """How the options chose the API server, for messages: 'the kubeconfig /p (context c)'."""
    kubeconfig, context = params.get("kubeconfig"), params.get("context")
    if params.get("host"):
        text = "the host option (or K8S_AUTH_HOST)"
    elif isinstance(kubeconfig, dict):
        text = "the kubeconfig given as a dictionary"
    elif kubeconfig:
        text = "the kubeconfig %s (option kubeconfig or K8S_AUTH_KUBECONFIG)" % kubeconfig
    else:
        text = "the default kubeconfig (~/.kube/config or KUBECONFIG)"
    return text + (", context %s" % context if context else "")


IDENTITY_SKIP_HINT = (
    "Behind a proxy that shows neither the cluster's certificate nor its kube-root-ca.crt, set "
    "cluster_identity=skip (or EKSOPS_CLUSTER_IDENTITY=skip) for that host only.")


def prove_cluster(kube, cluster, endpoint, source, mode, warn):
    """Prove that the API server `kube` reaches is the EKS cluster `cluster` (DescribeCluster),
    before any other request: a kubeconfig exported for one cluster (K8S_AUTH_KUBECONFIG) must
    not make a fleet run write to that cluster for every host. Proof, cheapest first:
    the server's certificate is issued by the cluster CA from DescribeCluster (one TLS
    handshake, no request), or, through a proxy, the cluster's kube-root-ca.crt ConfigMap holds
    that CA (one GET). Returns how it was proven; raises ClusterIdentityError otherwise.
    `mode` "skip" proves nothing and warns."""
    name = cluster["name"]
    if mode == "skip":
        warn("cluster_identity=skip: the API server at %s (%s) was not proven to be EKS cluster "
             "'%s'. Every write goes to whatever cluster that is." % (endpoint, source, name))
        return "skipped"
    ca_pem = base64.b64decode(cluster["ca_data"])
    what = "Proving that %s is EKS cluster '%s'" % (endpoint, name)
    presented = kube.peer_certificate(what + " (TLS handshake)")
    if presented is not None and certificates.issued_by(presented, ca_pem):
        return "serving-certificate"
    try:
        root = kube.get("ConfigMap", "kube-root-ca.crt", "kube-system",
                        what=what + " (reading ConfigMap kube-system/kube-root-ca.crt)")
    except eksops_errors.KubeError as e:
        if e.status not in (401, 403):
            raise
        root, denied = None, e.status
    else:
        denied = None
    bundle = ((root or {}).get("data") or {}).get("ca.crt")
    if bundle and certificates.same_authority(bundle.encode("utf-8"), ca_pem):
        return "kube-root-ca"
    seen = []
    if presented is not None:
        seen.append("its serving certificate (%s) is not issued by the cluster's CA"
                    % certificates.describe(presented))
    if denied:
        seen.append("reading its ConfigMap kube-system/kube-root-ca.crt was refused (%s)" % denied)
    elif bundle:
        seen.append("its kube-root-ca.crt holds another CA (%s)"
                    % certificates.describe(bundle.encode("utf-8")))
    else:
        seen.append("it has no kube-root-ca.crt ConfigMap in kube-system to compare")
    raise eksops_errors.ClusterIdentityError(
        "The API server at %s, chosen by %s, is not EKS cluster '%s' (%s, endpoint %s): %s. "
        "Nothing was written. A kubeconfig of one cluster exported for a fleet run "
        "(K8S_AUTH_KUBECONFIG) sends every host to that cluster: unset it to use the EKS token "
        "path (endpoint and CA from DescribeCluster), or give each host the kubeconfig or "
        "context of its own cluster. %s"
        % (endpoint, source, name, cluster.get("arn"), cluster.get("endpoint"),
           "; ".join(seen), IDENTITY_SKIP_HINT),
        cluster_identity="refused")


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
        problem = option_problems(self.params)
        if problem:
            self.fail_json(msg=problem)
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
    def cluster_identity(self):
        """How the API server was proven to be the cluster named: eks-token (by construction),
        serving-certificate, kube-root-ca, skipped; None before the first Kubernetes request."""
        return self._k8s.identity if self._k8s is not None else None

    @property
    def clients(self):
        """The step's clients. The API server is proven to be the cluster first (a no-op on
        the EKS token path), so that no step writes anything (to AWS either) for a task whose
        kubeconfig leads to another cluster."""
        if _explicit(self.params):
            self.k8s.prove()
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
                self._boto3_session = aws_session(profile)
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
        """Fail the module for one of the domain's typed errors (_errors.py): the one place
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
