#!/usr/bin/python
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE) or GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt),
# at your option: modules are dual-licensed so that they combine with Ansible's GPLv3 module code.

from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
module: verify_report
short_description: Write one deployment's verify report (Markdown, JSON, SVG) and compare it with the previous one
version_added: 0.1.0
description:
  - Runs where the report is kept (the controller, in C(onprem.deepseek.verify)). In O(path) it writes
    C(report.json), C(report.md) and C(latency.svg) (request latency p50/p99 and TTFT p99 against concurrency).
  - The C(report.json) already there is the previous report; it is kept as C(previous.json) and each concurrency
    level is compared with it. A level whose request latency p99 or TTFT p99 rose, or whose output tokens/s fell, by
    more than O(threshold_pct), or that had more errors, is a regression.
  - The plan's promise (C(max_concurrency), C(max_model_len) of M(onprem.deepseek.deployment_plan)) is set against
    the level of that concurrency.
author:
  - onprem.deepseek contributors (@onprem-deepseek)
options:
  path:
    description:
      - Directory of this deployment's reports; created when missing.
    type: path
    required: true
  report:
    description:
      - The measurements, a dict with C(deployment), C(measured_at), C(plan) (the deployment_plan result), C(bench)
        (C(tool), C(status), C(reason), C(url), C(host), C(model), C(key_name), C(max_tokens), C(requests), C(max_seconds),
        C(levels) as M(onprem.deepseek.serving_bench) returns them) and C(hosts) (a list of C(host) and C(sections) as
        M(onprem.deepseek.gpu_health) returns them, plus C(fabric)).
    type: dict
    required: true
  threshold_pct:
    description:
      - Change in percent beyond which a level counts as a regression.
    type: float
    default: 10
extends_documentation_fragment: []
attributes:
  check_mode:
    support: full
    description: Computes the report and the comparison but writes nothing.
  diff_mode:
    support: none
    description: No diff.
notes:
  - Rendering and comparison are in C(plugins/module_utils/verify.py).
"""

EXAMPLES = r"""
- name: Write the report of deployment lab
  onprem.deepseek.verify_report:
    path: "{{ inventory_dir }}/verify-report/lab"
    report: "{{ verify_record }}"
    threshold_pct: 10
  delegate_to: localhost
"""

RETURN = r"""
regressions:
  description: One sentence per regression against the previous report.
  returned: always
  type: list
  elements: str
findings:
  description: The plan's promise against the load test.
  returned: always
  type: list
  elements: str
files:
  description: Paths of the files written.
  returned: always
  type: list
  elements: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onprem.deepseek.plugins.module_utils import verify


def _load(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            report=dict(type="dict", required=True),
            threshold_pct=dict(type="float", default=10),
        ),
        supports_check_mode=True,
    )
    directory, report = module.params["path"], dict(module.params["report"])
    for key in ("deployment", "measured_at", "bench", "hosts"):
        if key not in report:
            module.fail_json(msg="verify_report: report has no %r; it needs deployment, measured_at, bench, plan and hosts" % key)
    levels = report["bench"].get("levels") or []
    report["plan"] = dict(verify.plan_findings(levels, report.get("plan")), plan=report.get("plan"))
    previous = _load(os.path.join(directory, "report.json"))
    report["comparison"] = None
    if isinstance(previous, dict) and previous.get("bench"):
        comparison = verify.compare(levels, previous["bench"].get("levels") or [], module.params["threshold_pct"])
        comparison.update(previous_measured_at=previous.get("measured_at"), threshold_pct=module.params["threshold_pct"])
        report["comparison"] = comparison
    regressions = (report["comparison"] or {}).get("regressions", [])
    names = ("report.json", "report.md", "latency.svg", "previous.json")
    files = [os.path.join(directory, name) for name in names[:3]]
    if not module.check_mode:
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o755)
            if previous is not None:
                os.replace(os.path.join(directory, "report.json"), os.path.join(directory, "previous.json"))
            contents = (json.dumps(report, indent=2, sort_keys=True) + "\n", verify.render_markdown(report), verify.latency_svg(report))
            for name, content in zip(names, contents):
                tmp = os.path.join(directory, ".%s.tmp" % name)
                with open(tmp, "w") as handle:
                    handle.write(content)
                os.replace(tmp, os.path.join(directory, name))
        except OSError as exc:
            module.fail_json(msg="verify_report: cannot write %s: %s" % (directory, exc))
    module.exit_json(changed=not module.check_mode, regressions=regressions, findings=report["plan"]["findings"], files=files)


if __name__ == "__main__":
    main()
