# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Every module of the collection belongs to the action group eksops.windows.eks_windows.
    ACTION_GROUP = r"""
attributes:
  action_group:
    support: full
    membership: [eksops.windows.eks_windows]
    description: Use C(group/eksops.windows.eks_windows) in C(module_defaults) to set the
      cluster and AWS options once for every module of the collection.
"""

    DOCUMENTATION = r"""
options: {}
"""
