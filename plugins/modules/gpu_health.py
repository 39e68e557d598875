#!/usr/bin/python
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE) or GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt),
# at your option: modules are dual-licensed so that they combine with Ansible's GPLv3 module code.

from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
module: gpu_health
short_description: GPU health for the verify report (ECC, row remapping, Xid, NVLink, DCGM diagnostic, NCCL all_reduce)
version_added: 0.1.0
description:
  - Each section runs only where its tool exists and there is a GPU; otherwise it reads C(status=skipped) with the
    reason, never a figure.
  - C(gpu) - C(nvidia-smi --query-gpu) ECC mode and volatile corrected/uncorrected counts, pending or failed row
    remaps, temperature. C(nvlink) - C(nvidia-smi nvlink --status). C(xid) - Xid lines of this boot's kernel log
    (C(journalctl -k -b)). C(dcgm) - C(dcgmi diag -r <level>) where DCGM is installed. C(nccl) - nccl-tests'
    C(all_reduce_perf) over this host's GPUs where it is installed (average bus bandwidth).
  - A section is C(ok), C(problems) (with one sentence each) or C(failed) (the tool failed; its message).
author:
  - onprem.deepseek contributors (@onprem-deepseek)
options:
  gpu_count:
    description:
      - GPUs the host has (the hardware_facts module's C(gpu_count)); 0 skips every section with that reason.
    type: int
    required: true
  dcgm_level:
    description:
      - Run level of C(dcgmi diag) (1 takes seconds, 2 about two minutes, 3 tens of minutes); 0 skips it.
    type: int
    default: 1
  nccl_args:
    description:
      - Arguments of C(all_reduce_perf); C(-g <gpu_count>) is added. An empty list skips it.
    type: list
    elements: str
    default: ["-b", "8M", "-e", "1G", "-f", "2"]
  timeout:
    description:
      - Seconds each tool may run.
    type: int
    default: 600
extends_documentation_fragment: []
attributes:
  check_mode:
    support: full
    description: Reads only; the diagnostics are read-only tests.
  diff_mode:
    support: none
    description: Changes nothing.
notes:
  - The parsers are in C(plugins/module_utils/verify.py), tested against outputs in the formats NVIDIA documents.
"""

EXAMPLES = r"""
- name: Check the GPUs
  onprem.deepseek.gpu_health:
    gpu_count: "{{ ansible_facts['onprem_hardware']['gpu_count'] }}"
  register: health
"""

RETURN = r"""
sections:
  description: gpu, nvlink, xid, dcgm and nccl, each with status (ok, problems, failed, skipped), reason (skipped, failed),
    summary, problems and the parsed data.
  returned: always
  type: dict
  sample: {gpu: {status: skipped, reason: "no NVIDIA GPU on this host (onprem_hardware.gpu_count is 0)"}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onprem.deepseek.plugins.module_utils import verify


def _skipped(reason):
    return {"status": "skipped", "reason": reason}


def _outcome(data, summary):
    return dict(data, status="problems" if data["problems"] else "ok", summary=summary)


def _run(module, args, timeout):
    rc, out, err = module.run_command(["timeout", str(timeout)] + args if module.get_bin_path("timeout") else args)
    return rc, out, (err or out).strip()[-400:]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gpu_count=dict(type="int", required=True),
            dcgm_level=dict(type="int", default=1),
            nccl_args=dict(type="list", elements="str", default=["-b", "8M", "-e", "1G", "-f", "2"]),
            timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    p = module.params
    names = ("gpu", "nvlink", "xid", "dcgm", "nccl")
    if p["gpu_count"] < 1:
        reason = "no NVIDIA GPU on this host (onprem_hardware.gpu_count is %d)" % p["gpu_count"]
        module.exit_json(changed=False, sections=dict((name, _skipped(reason)) for name in names))
    sections = {}
    smi = module.get_bin_path("nvidia-smi")
    if not smi:
        reason = "nvidia-smi is not installed (the nvidia_driver role installs it)"
        sections.update(gpu=_skipped(reason), nvlink=_skipped(reason))
    else:
        rc, out, err = _run(module, [smi] + verify.HEALTH_ARGS, p["timeout"])
        if rc != 0:
            sections["gpu"] = {"status": "failed", "reason": "nvidia-smi: %s" % err, "problems": []}
        else:
            try:
                data = verify.parse_health_query(out)
            except ValueError as exc:
                sections["gpu"] = {"status": "failed", "reason": str(exc), "problems": []}
            else:
                ecc = sum(1 for g in data["gpus"] if (g["ecc_mode"] or "").lower() == "enabled")
                sections["gpu"] = _outcome(data, "%d GPU(s), ECC enabled on %d" % (len(data["gpus"]), ecc))
        rc, out, err = _run(module, [smi, "nvlink", "--status"], p["timeout"])
        if rc != 0:
            sections["nvlink"] = {"status": "failed", "reason": "nvidia-smi nvlink: %s" % err, "problems": []}
        else:
            data = verify.parse_nvlink_status(out)
            sections["nvlink"] = (_outcome(data, "%d active link(s)" % data["links_active"]) if data["links_active"]
                                  else _skipped("no NVLink on this host (nvidia-smi nvlink --status lists no active link)"))
    journalctl = module.get_bin_path("journalctl")
    if not journalctl:
        sections["xid"] = _skipped("journalctl is not installed: no kernel log to read Xid events from")
    else:
        rc, out, err = _run(module, [journalctl, "-k", "-b", "--no-pager", "-o", "cat", "--grep", "NVRM: Xid"], p["timeout"])
        # journalctl --grep exits 1 when nothing matches
        if rc not in (0, 1):
            sections["xid"] = {"status": "failed", "reason": "journalctl: %s" % err, "problems": []}
        else:
            data = verify.parse_xid(out if rc == 0 else "")
            sections["xid"] = _outcome(data, "%d Xid event(s) since boot" % data["count"])
    dcgmi = module.get_bin_path("dcgmi")
    if p["dcgm_level"] < 1:
        sections["dcgm"] = _skipped("dcgm_level is 0")
    elif not dcgmi:
        sections["dcgm"] = _skipped("DCGM is not installed (no dcgmi)")
    else:
        rc, out, err = _run(module, [dcgmi, "diag", "-r", str(p["dcgm_level"])], p["timeout"])
        data = verify.parse_dcgmi_diag(out)
        if not data["tests"]:
            sections["dcgm"] = {"status": "failed", "reason": "dcgmi diag (rc %d): %s" % (rc, err), "problems": []}
        else:
            sections["dcgm"] = _outcome(data, "level %d: %d test(s)" % (p["dcgm_level"], len(data["tests"])))
    nccl = module.get_bin_path("all_reduce_perf")
    if not p["nccl_args"]:
        sections["nccl"] = _skipped("nccl_args is empty")
    elif not nccl:
        sections["nccl"] = _skipped("nccl-tests are not installed (no all_reduce_perf)")
    else:
        rc, out, err = _run(module, [nccl] + p["nccl_args"] + ["-g", str(p["gpu_count"])], p["timeout"])
        try:
            data = verify.parse_all_reduce_perf(out)
        except ValueError as exc:
            sections["nccl"] = {"status": "failed", "reason": "all_reduce_perf (rc %d): %s; %s" % (rc, exc, err), "problems": []}
        else:
            data["problems"] = ["all_reduce_perf: %d out-of-bounds value(s)" % data["out_of_bounds"]] if data["out_of_bounds"] else []
            sections["nccl"] = _outcome(data, "%d GPU(s), average bus bandwidth %s GB/s" % (p["gpu_count"], data["avg_busbw_gb_s"]))
    module.exit_json(changed=False, sections=sections)


if __name__ == "__main__":
    main()
