"""The verify report's pure logic: GPU health parsers, comparison with the previous report and the plan, rendering.

The samples follow the formats NVIDIA documents; they are written here in those formats (not captured on this
machine, which has no GPU):
- nvidia-smi --query-gpu fields and their [N/A] values: `nvidia-smi --help-query-gpu`, and
  https://docs.nvidia.com/deploy/nvidia-smi/index.html (ECC, remapped rows).
- `nvidia-smi nvlink --status`: the same page ("nvlink" sub-command; "Link N: <speed> GB/s" or "<inactive>").
- Xid lines: https://docs.nvidia.com/deploy/xid-errors/ ("NVRM: Xid (PCI:0000:03:00): 79, ..." in the kernel log).
- `dcgmi diag -r 1`: https://docs.nvidia.com/datacenter/dcgm/latest/user-guide/dcgm-diagnostics.html (the result table).
- all_reduce_perf: https://github.com/NVIDIA/nccl-tests README (the table and "# Avg bus bandwidth").
"""

import xml.etree.ElementTree as ET

import pytest

from ansible_collections.onprem.deepseek.plugins.module_utils import verify

HEALTH_H100 = """\
0, 00000000:18:00.0, NVIDIA H100 80GB HBM3, Enabled, 0, 0, No, No, 34
1, 00000000:2A:00.0, NVIDIA H100 80GB HBM3, Enabled, 12, 2, Yes, No, 36
"""
HEALTH_RTX = "0, 00000000:01:00.0, NVIDIA GeForce RTX 4090, [N/A], [N/A], [N/A], [N/A], [N/A], 45\n"

NVLINK_A100 = """\
GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-4b6e1f1a-0c1d-5a8e-8b0e-1f2e3d4c5b6a)
\t Link 0: 25 GB/s
\t Link 1: 25 GB/s
\t Link 2: <inactive>
GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-9a8b7c6d-5e4f-3a2b-1c0d-9e8f7a6b5c4d)
\t Link 0: 25 GB/s
\t Link 1: 25 GB/s
"""
NVLINK_PCIE = "GPU 0: NVIDIA L40S (UUID: GPU-11111111-2222-3333-4444-555555555555)\n"

KERNEL_LOG = """\
NVRM: loading NVIDIA UNIX x86_64 Kernel Module  550.90.07
NVRM: Xid (PCI:0000:3b:00): 13, Graphics SM Warp Exception on (GPC 0, TPC 1, SM 0): Out Of Range Address
NVRM: Xid (PCI:0000:03:00): 79, pid=1411, name=python3, GPU has fallen off the bus.
"""

DCGM_DIAG = """\
Successfully ran diagnostic for group.
+---------------------------+------------------------------------------------+
| Diagnostic                | Result                                         |
+===========================+================================================+
|-----  Metadata  ----------+------------------------------------------------|
| DCGM Version              | 3.3.5                                          |
| Driver Version Detected   | 550.54.15                                      |
|-----  Deployment  --------+------------------------------------------------|
| Denylist                  | Pass                                           |
| NVML Library              | Pass                                           |
| Persistence Mode          | Warn - GPU: 0                                  |
| Page Retirement/Row Remap | Fail - GPU: 1                                  |
| Graphics Processes        | Pass                                           |
+---------------------------+------------------------------------------------+
"""

ALL_REDUCE = """\
# nThread 1 nGpus 8 minBytes 8388608 maxBytes 1073741824 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0
#
#                                                              out-of-place                       in-place
#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong
#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)
     8388608       2097152     float     sum      -1    93.52   89.70  156.98      0    92.88   90.32  158.06      0
  1073741824     268435456     float     sum      -1   5641.2  190.34  333.10      0   5638.9  190.42  333.23      0
# Out of bounds values : 0 OK
# Avg bus bandwidth    : 245.342
#
"""


def test_health_query_flags_uncorrected_ecc_and_pending_remaps():
    data = verify.parse_health_query(HEALTH_H100)
    assert [g["ecc_corrected"] for g in data["gpus"]] == [0, 12]
    assert data["problems"] == [
        "GPU 1 (00000000:2A:00.0): 2 uncorrected ECC error(s) since the driver loaded",
        "GPU 1 (00000000:2A:00.0): a memory row remap is pending (reset the GPU)",
    ]


def test_health_query_without_ecc_is_not_a_problem():
    data = verify.parse_health_query(HEALTH_RTX)
    assert data["gpus"][0]["ecc_mode"] is None and data["gpus"][0]["temperature_c"] == 45
    assert data["problems"] == []


def test_health_query_refuses_a_line_of_another_shape():
    with pytest.raises(ValueError, match="has 2 fields, expected 9"):
        verify.parse_health_query("0, x\n")


def test_nvlink_inactive_link_next_to_active_ones():
    data = verify.parse_nvlink_status(NVLINK_A100)
    assert data["links_active"] == 4
    assert data["problems"] == ["GPU 0: NVLink link(s) 2 inactive while 2 are up"]


def test_nvlink_absent_on_pcie_board():
    expected = {"gpus": [{"index": 0, "name": "NVIDIA L40S", "active": 0, "inactive": [], "gb_s": []}], "links_active": 0, "problems": []}
    assert verify.parse_nvlink_status(NVLINK_PCIE) == expected


def test_xid_events_serious_ones_are_problems():
    data = verify.parse_xid(KERNEL_LOG)
    assert [(e["pci"], e["xid"]) for e in data["events"]] == [("0000:3b:00", 13), ("0000:03:00", 79)]
    assert data["problems"] == ["Xid 79 on 0000:03:00: pid=1411, name=python3, GPU has fallen off the bus."]


def test_dcgmi_diag_rows():
    data = verify.parse_dcgmi_diag(DCGM_DIAG)
    assert data["tests"] == {"Denylist": "Pass", "NVML Library": "Pass", "Persistence Mode": "Warn",
                             "Page Retirement/Row Remap": "Fail", "Graphics Processes": "Pass"}
    assert data["problems"] == ["dcgmi diag: Page Retirement/Row Remap fail"]


def test_all_reduce_perf_summary():
    data = verify.parse_all_reduce_perf(ALL_REDUCE)
    assert data == {"avg_busbw_gb_s": 245.342, "out_of_bounds": 0,
                    "largest": {"bytes": 1073741824, "busbw_gb_s": 333.10, "inplace_busbw_gb_s": 333.23}}


def test_all_reduce_perf_without_root_column():
    old = "  1048576  262144  float  sum  20.1  52.2  91.3  0  19.8  52.9  92.6  0\n# Avg bus bandwidth    : 91.9\n"
    assert verify.parse_all_reduce_perf(old)["largest"] == {"bytes": 1048576, "busbw_gb_s": 91.3, "inplace_busbw_gb_s": 92.6}


def test_all_reduce_perf_without_summary():
    with pytest.raises(ValueError, match="no '# Avg bus bandwidth' line"):
        verify.parse_all_reduce_perf("NCCL failure common.cu:1005 'unhandled system error'\n")


def _level(c, p99=1.0, ttft=100.0, tps=100.0, errors=0, requests=8):
    return {"concurrency": c, "requests": requests, "completed": requests - errors, "errors": errors, "error_kinds": {"HTTP 429": errors} if errors else {},
            "wall_s": 5.0, "output_tokens": 500, "output_tokens_per_s": tps, "requests_per_s": 1.6,
            "ttft_ms": {"p50": ttft / 2, "p99": ttft}, "itl_ms": {"p50": 9.0, "p99": 15.0}, "latency_s": {"p50": p99 / 2, "p99": p99}}


def test_compare_flags_regressions_beyond_the_threshold_only():
    before = [_level(1), _level(4)]
    now = [_level(1, p99=1.05, tps=95.0), _level(4, p99=1.3, ttft=150.0, tps=80.0, errors=1), _level(8)]
    result = verify.compare(now, before, threshold_pct=10)
    assert [r["concurrency"] for r in result["rows"]] == [1, 4]  # 8 was not in the previous report
    assert result["rows"][0]["latency_p99_pct"] == 5.0 and result["rows"][0]["tokens_per_s_pct"] == -5.0
    assert result["regressions"] == [
        "concurrency 4: request latency p99 1.0 s -> 1.3 s (+30.0%)",
        "concurrency 4: TTFT p99 100.0 ms -> 150.0 ms (+50.0%)",
        "concurrency 4: output tokens/s 100.0 -> 80.0 (-20.0%)",
        "concurrency 4: errors 0 -> 1",
    ]


def test_compare_too_few_completed_requests_compares_errors_only():
    result = verify.compare([_level(2, p99=9.0, errors=5)], [_level(2, errors=0)])
    assert result["rows"][0]["latency_p99_pct"] is None
    assert result["regressions"] == ["concurrency 2: errors 0 -> 5"]


def test_compare_without_previous_or_figures():
    assert verify.compare([_level(1)], None) == {"rows": [], "regressions": []}
    empty = dict(_level(1), latency_s={"p50": None, "p99": None}, output_tokens_per_s=None)
    assert verify.compare([empty], [_level(1)])["regressions"] == []


def test_plan_findings():
    plan = {"fits": True, "gpus": 8, "max_concurrency": 4, "max_model_len": 32768}
    found = verify.plan_findings([_level(1), _level(4, errors=1)], plan)
    assert found["promised"] == {"max_concurrency": 4, "max_model_len": 32768}
    assert found["findings"][0] == "at the planned 4 concurrent sequences: 7 of 8 requests completed, 1 errors"
    assert "planned 32768 tokens" in found["findings"][1]
    assert verify.plan_findings([_level(1)], plan)["findings"][0] == "the planned 4 concurrent sequences were not tested (highest level 1)"
    skipped = {"fits": True, "gpus": 0, "skipped": True, "reason": "nothing to plan: no deepseek_model or no deepseek_gpu"}
    assert verify.plan_findings([], skipped) == {"promised": None,
                                                 "findings": ["no plan to compare with (nothing to plan: no deepseek_model or no deepseek_gpu)"]}


def _report(levels, comparison=None):
    return {
        "deployment": "lab", "measured_at": "2026-12-04T02:30:00Z",
        "bench": {"tool": "builtin (onprem.deepseek.serving_bench)", "status": "ok", "url": "https://127.0.0.1:443/v1/chat/completions",
                  "host": "h1", "model": "m", "key_name": "demo", "max_tokens": 64, "requests": 8, "max_seconds": 60, "levels": levels},
        "plan": verify.plan_findings(levels, {"skipped": True, "reason": "nothing to plan"}),
        "comparison": comparison,
        "hosts": [{"host": "h1", "sections": {"gpu": {"status": "skipped", "reason": "no NVIDIA GPU on this host (onprem_hardware.gpu_count is 0)"},
                                              "xid": {"status": "problems", "summary": "1 Xid event(s) since boot", "problems": ["Xid 79 on x: y"]}}}],
    }


def test_markdown_report():
    levels = [_level(1), _level(2, errors=2)]
    comparison = dict(verify.compare(levels, [_level(1, p99=0.5)]), previous_measured_at="2026-12-01T00:00:00Z", threshold_pct=10)
    text = verify.render_markdown(_report(levels, comparison))
    assert text.startswith("# Verify report: lab\n")
    assert "| 2 | 8 | 2 | 50.0 / 100.0 | 9.0 / 15.0 | 100.0 | 0.5 / 1.0 |" in text
    assert "Errors: concurrency 2: HTTP 429 x2" in text
    assert "- concurrency 1: request latency p99 0.5 s -> 1.0 s (+100.0%)" in text
    assert "| 1 | +100.0% | 0.0% | 0.0% | 0 -> 0 |" in text
    assert "- gpu: skipped: no NVIDIA GPU on this host (onprem_hardware.gpu_count is 0)" in text
    assert "- nccl: skipped: not collected" in text
    assert "- xid: problems (1 Xid event(s) since boot)\n  - Xid 79 on x: y" in text
    assert "no previous report" in verify.render_markdown(_report(levels))


def test_markdown_of_a_skipped_load_test():
    report = _report([])
    report["bench"] = {"tool": "builtin (onprem.deepseek.serving_bench)", "status": "skipped", "reason": "check mode sends no traffic"}
    assert "skipped: check mode sends no traffic" in verify.render_markdown(report)


def test_svg_is_well_formed_with_three_series():
    root = ET.fromstring(verify.latency_svg(_report([_level(1), _level(2, p99=2.0), _level(4, p99=3.0)])))
    names = [g.get("data-name") for g in root.iter("{http://www.w3.org/2000/svg}g")]
    assert names == ["latency p50", "latency p99", "TTFT p99"]
    assert len(list(root.iter("{http://www.w3.org/2000/svg}circle"))) == 9


@pytest.mark.parametrize("levels", [[], [_level(2)]])
def test_svg_with_nothing_or_one_level(levels):
    root = ET.fromstring(verify.latency_svg(_report(levels)))
    assert root.tag.endswith("svg")
