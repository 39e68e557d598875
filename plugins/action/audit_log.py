# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Action plugin of onprem.deepseek.audit_log: the actor is the controller's user, named where the run started."""

from __future__ import annotations

import getpass
import os
import socket

from ansible.plugins.action import ActionBase


def controller_actor(environ=None):
    """'user@controller': SUDO_USER when ansible-playbook runs through sudo, else the login user."""
    environ = os.environ if environ is None else environ
    user = environ.get("SUDO_USER") or getpass.getuser()
    return "%s@%s" % (user, socket.gethostname())


class ActionModule(ActionBase):

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)
        if not args.get("actor"):
            args["actor"] = controller_actor()
        result.update(self._execute_module(module_name="onprem.deepseek.audit_log", module_args=args, task_vars=task_vars))
        return result
