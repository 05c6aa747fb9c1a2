# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The errors the domain raises. Each carries a message that says what went wrong and what to
do; the module class turns them into ``fail_json`` (or ``fail_json_aws``) in one place
(``EksClusterModule.run``), with ``details`` as extra result keys."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class EksOpsError(Exception):
    """A failure with a message for people. ``details``: extra keys for the module result."""

    def __init__(self, msg, **details):
        super(EksOpsError, self).__init__(msg)
        self.msg = msg
        self.details = details


class InputError(EksOpsError):
    """An option or input that cannot be used as given."""


class BlockedError(EksOpsError):
    """A procedure that must not run on this cluster: ``blockers`` says why. Only the module
    option ``force`` goes past it."""

    def __init__(self, msg, blockers, **details):
        super(BlockedError, self).__init__(msg, blockers=list(blockers), **details)
        self.blockers = list(blockers)


class KubeError(EksOpsError):
    """A Kubernetes request that failed; ``status`` is the HTTP status (None when the server
    could not be reached)."""

    def __init__(self, msg, status=None, **details):
        super(KubeError, self).__init__(msg, **details)
        self.status = status


class ClusterIdentityError(InputError):
    """The API server the options reach is not the EKS cluster the task names."""


class AwsError(EksOpsError):
    """An AWS call that failed; ``exception`` is botocore's, for ``fail_json_aws``."""

    def __init__(self, msg, exception, **details):
        super(AwsError, self).__init__(msg, **details)
        self.exception = exception


class StepError(EksOpsError):
    """A step failed after earlier steps had already written: ``details`` carries ``changed``
    and what was done, so the result reports the writes that happened."""


class LeaseError(EksOpsError):
    """Another run holds the cluster's Lease (_lease.py), or took it while this run was reading
    or writing; ``details['lease']`` names that run's procedure, holder and times."""
