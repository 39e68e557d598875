#!/usr/bin/python
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE) or GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt),
# at your option: modules are dual-licensed so that they combine with Ansible's GPLv3 module code.

from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
module: canary_check
short_description: The error ratio of a canary version from the gateway's access log, and the verdict
version_added: 0.1.0
description:
  - Reads the gateway's access log (log_format C(deepseek_gateway), role onprem.deepseek.gateway) from O(offset) to its
    end and counts, per upstream, the requests nginx sent there and those answered with a status of 500 or more
    (502 and 504 when nginx could not reach the upstream or it did not answer in time).
  - The canary is O(upstream), the new version's address as nginx writes it (C(127.0.0.1:8001)); every other upstream
    is the serving version (the baseline, reported beside it).
  - The verdict is C(rollback) when the canary served at least O(min_requests) and its error ratio is over
    O(threshold_percent), C(promote) when it is at or under it, C(wait) while it served fewer.
  - A log shorter than O(offset) was rotated in between; it is read from its start (RV(rotated) says so).
  - Reads only; changes nothing.
author:
  - onprem.deepseek contributors (@onprem-deepseek)
options:
  path:
    description: The gateway's access log.
    type: path
    default: /var/log/onprem-deepseek/gateway/access.log
  upstream:
    description: The canary's upstream address, host:port.
    type: str
    required: true
  offset:
    description: Byte offset to read from (RV(size) of an earlier call, when the canary started).
    type: int
    default: 0
  threshold_percent:
    description: The highest error ratio, in percent, that still promotes the canary.
    type: float
    default: 5.0
  min_requests:
    description: Requests the canary must have served before a verdict other than C(wait).
    type: int
    default: 20
extends_documentation_fragment: []
attributes:
  check_mode:
    support: full
    description: Reads the log as in a normal run.
  diff_mode:
    support: none
    description: No diff.
"""

EXAMPLES = r"""
- name: Where the log ends when the canary starts
  onprem.deepseek.canary_check:
    upstream: 127.0.0.1:8001
  register: __start

- name: The canary's errors since then, every 10 s until it must roll back or the window ends
  onprem.deepseek.canary_check:
    upstream: 127.0.0.1:8001
    offset: "{{ __start.size }}"
    threshold_percent: 5
  register: __canary
  until: __canary.verdict == 'rollback'
  retries: 30
  delay: 10
  failed_when: false
"""

RETURN = r"""
size:
  description: The log's size now, in bytes (the offset of a later call).
  returned: always
  type: int
rotated:
  description: True when the log was shorter than O(offset) and was read from its start.
  returned: always
  type: bool
canary:
  description: The canary's C(requests), C(errors) and C(error_percent).
  returned: always
  type: dict
baseline:
  description: The same for every other upstream (the serving version).
  returned: always
  type: dict
unparsed:
  description: Lines without the upstream fields (older log lines, another format).
  returned: always
  type: int
verdict:
  description: C(promote), C(rollback) or C(wait).
  returned: always
  type: str
summary:
  description: One sentence with the numbers.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onprem.deepseek.plugins.module_utils import canary


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/var/log/onprem-deepseek/gateway/access.log"),
            upstream=dict(type="str", required=True),
            offset=dict(type="int", default=0),
            threshold_percent=dict(type="float", default=canary.DEFAULT_THRESHOLD_PERCENT),
            min_requests=dict(type="int", default=canary.DEFAULT_MIN_REQUESTS),
        ),
        supports_check_mode=True,
    )
    path, offset = module.params["path"], module.params["offset"]
    if not 0 <= module.params["threshold_percent"] <= 100:
        module.fail_json(msg="threshold_percent is %s; allowed: 0-100" % module.params["threshold_percent"])
    if offset < 0 or module.params["min_requests"] < 0:
        module.fail_json(msg="offset and min_requests are %d and %d; allowed: 0 or more" % (offset, module.params["min_requests"]))
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            rotated = size < offset
            handle.seek(0 if rotated else offset)
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError as exc:
        module.fail_json(msg="canary_check: cannot read the gateway's access log %s: %s" % (path, exc))
    found = canary.tally(lines, module.params["upstream"])
    module.exit_json(changed=False, size=size, rotated=rotated, canary=found["canary"], baseline=found["baseline"],
                     unparsed=found["unparsed"],
                     verdict=canary.verdict(found, module.params["threshold_percent"], module.params["min_requests"]),
                     summary=canary.summary(found, module.params["threshold_percent"]))


if __name__ == "__main__":
    main()
