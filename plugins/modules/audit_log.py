#!/usr/bin/python
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE) or GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt),
# at your option: modules are dual-licensed so that they combine with Ansible's GPLv3 module code.

from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
module: audit_log
short_description: Append one administrative action of the collection to the host's audit log
version_added: 0.1.0
description:
  - Appends one JSON line (C(time) in UTC, C(actor), C(action), C(role), C(detail)) to O(path) on the managed host,
    the record of who changed the service and when (API keys added or revoked, an engine version deployed or rolled
    back). Lines are only ever appended, and the file is created root-only.
  - The roles call it only when their change happened, so a run that changes nothing writes nothing.
  - Its action plugin fills O(actor) on the controller with the user running ansible-playbook (C(SUDO_USER) when
    run through sudo) and the controller's host name.
author:
  - onprem.deepseek contributors (@onprem-deepseek)
options:
  action:
    description: What was done, a short phrase (C(api keys changed), C(engine deployed)).
    type: str
    required: true
  role:
    description: The role (or playbook) that did it.
    type: str
    required: true
  detail:
    description: What changed, never a secret (key names, not keys).
    type: dict
    default: {}
  actor:
    description: Who did it; filled by the action plugin on the controller when not given.
    type: str
  path:
    description: The audit log.
    type: path
    default: /var/log/onprem-deepseek/audit.log
extends_documentation_fragment: []
attributes:
  check_mode:
    support: full
    description: Reports the line it would append, appends nothing.
  diff_mode:
    support: none
    description: No diff.
"""

EXAMPLES = r"""
- name: Record the key change in the audit log
  onprem.deepseek.audit_log:
    action: api keys changed
    role: gateway
    detail:
      present: [research, ops]
      revoked: [intern-2025]
  when: __gateway_keys_written is changed
"""

RETURN = r"""
entry:
  description: The line appended (or, in check mode, that would be).
  returned: always
  type: dict
"""

import datetime
import json
import os

from ansible.module_utils.basic import AnsibleModule


def entry(action, role, detail, actor, now=None):
    """The audit record: one JSON object per line, keys sorted."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return {"time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "actor": actor or "unknown", "action": action, "role": role,
            "detail": detail or {}}


def append(path, record):
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        # The directory is shared with other logs of the collection (the gateway's, which mtail reads as a member of
        # adm): others may traverse it; the audit log itself is root-only (0600).
        os.makedirs(directory, 0o755)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type="str", required=True),
            role=dict(type="str", required=True),
            detail=dict(type="dict", default={}),
            actor=dict(type="str"),
            path=dict(type="path", default="/var/log/onprem-deepseek/audit.log"),
        ),
        supports_check_mode=True,
    )
    record = entry(module.params["action"], module.params["role"], module.params["detail"], module.params["actor"])
    if not module.check_mode:
        try:
            append(module.params["path"], record)
        except OSError as exc:
            module.fail_json(msg="audit_log: cannot append to %s: %s" % (module.params["path"], exc))
    module.exit_json(changed=True, entry=record)


if __name__ == "__main__":
    main()
