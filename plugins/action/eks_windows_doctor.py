# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs module eks_windows_doctor in the controller when the host is the controller (see plugin_utils/in_controller.py)."""
from ansible_collections.eksops.windows.plugins.plugin_utils.in_controller import action_plugin

ActionModule = action_plugin("eks_windows_doctor")
