# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The procedure lock of every module that writes (plugins/module_utils/_lease.py)."""

    DOCUMENTATION = r"""
options: {}
notes:
  - "One run at a time per cluster: runs that write hold the Lease C(kube-system/eksops-windows)
    (C(coordination.k8s.io/v1)) from their first write to their end, shared by every procedure of the
    collection. A run that finds it held by a live run (or taken since it began reading) fails
    before writing anything, naming that run, when its Lease expires and what to do; a Lease not
    renewed for 120 s is taken over. Check mode and read-only states take none. Needs C(get),
    C(create) and C(update) on C(leases) in C(kube-system). See docs/concurrency.md in the
    collection."
"""
