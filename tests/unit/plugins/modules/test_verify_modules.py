"""gpu_health with fake tools on PATH, verify_report writing and comparing in a temporary directory."""

import importlib.util
import json
import os
import stat

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.onprem.deepseek.plugins.modules import gpu_health, verify_report

# the samples (and their citations) live beside the parsers' tests
_SPEC = importlib.util.spec_from_file_location(
    "verify_samples", os.path.join(os.path.dirname(__file__), os.pardir, "module_utils", "test_verify.py"))
_SAMPLES = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_SAMPLES)
ALL_REDUCE, HEALTH_H100, NVLINK_A100 = _SAMPLES.ALL_REDUCE, _SAMPLES.HEALTH_H100, _SAMPLES.NVLINK_A100
_level, _report = _SAMPLES._level, _SAMPLES._report


def _run(capsys, module, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def _tool(directory, name, text, rc=0):
    (directory / (name + ".out")).write_text(text)
    script = directory / name
    script.write_text('#!/bin/sh\n/bin/cat "%s"\nexit %d\n' % (directory / (name + ".out"), rc))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_no_gpu_skips_every_section_with_the_reason(capsys):
    result = _run(capsys, gpu_health, {"gpu_count": 0})
    reason = "no NVIDIA GPU on this host (onprem_hardware.gpu_count is 0)"
    assert result["sections"] == dict((name, {"status": "skipped", "reason": reason}) for name in ("gpu", "nvlink", "xid", "dcgm", "nccl"))
    assert result["changed"] is False


def test_gpus_without_tools_say_which_tool_is_missing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    sections = _run(capsys, gpu_health, {"gpu_count": 8})["sections"]
    assert sections["gpu"] == {"status": "skipped", "reason": "nvidia-smi is not installed (the nvidia_driver role installs it)"}
    assert sections["dcgm"] == {"status": "skipped", "reason": "DCGM is not installed (no dcgmi)"}
    assert sections["nccl"] == {"status": "skipped", "reason": "nccl-tests are not installed (no all_reduce_perf)"}
    assert sections["xid"]["status"] == "skipped"


def test_gpus_with_fake_tools(capsys, tmp_path, monkeypatch):
    # nvidia-smi answers the health query and nvlink --status with the same script: one fake per sub-command is enough
    # to see both parsers wired; the query's sample is the one the module asks for
    _tool(tmp_path, "nvidia-smi", HEALTH_H100)
    _tool(tmp_path, "all_reduce_perf", ALL_REDUCE)
    monkeypatch.setenv("PATH", str(tmp_path))
    sections = _run(capsys, gpu_health, {"gpu_count": 2})["sections"]
    assert sections["gpu"]["status"] == "problems", sections
    assert sections["gpu"]["summary"] == "2 GPU(s), ECC enabled on 2"
    assert sections["nvlink"]["status"] == "skipped"  # the fake prints no Link lines
    assert sections["nccl"]["summary"] == "2 GPU(s), average bus bandwidth 245.342 GB/s"
    _tool(tmp_path, "nvidia-smi", NVLINK_A100)
    sections = _run(capsys, gpu_health, {"gpu_count": 2})["sections"]
    assert sections["gpu"]["status"] == "failed"  # NVLink text is no health line: said, not guessed
    assert sections["nvlink"]["problems"] == ["GPU 0: NVLink link(s) 2 inactive while 2 are up"]


def test_report_files_then_comparison_with_the_previous(capsys, tmp_path):
    directory = tmp_path / "lab"
    first = _report([_level(1), _level(2)])
    result = _run(capsys, verify_report, {"path": str(directory), "report": first})
    assert result["changed"] is True and result["regressions"] == []
    assert sorted(p.name for p in directory.iterdir()) == ["latency.svg", "report.json", "report.md"]
    assert "no previous report" in (directory / "report.md").read_text()
    second = dict(_report([_level(1), _level(2, p99=1.5)]), measured_at="2026-12-05T00:00:00Z")
    result = _run(capsys, verify_report, {"path": str(directory), "report": second, "threshold_pct": 20})
    assert result["regressions"] == ["concurrency 2: request latency p99 1.0 s -> 1.5 s (+50.0%)"]
    assert json.loads((directory / "previous.json").read_text())["measured_at"] == "2026-12-04T02:30:00Z"
    saved = json.loads((directory / "report.json").read_text())
    assert saved["comparison"]["previous_measured_at"] == "2026-12-04T02:30:00Z"
    assert "**Regressions:**" in (directory / "report.md").read_text()


def test_report_check_mode_writes_nothing(capsys, tmp_path):
    result = _run(capsys, verify_report, {"path": str(tmp_path / "x"), "report": _report([_level(1)]), "_ansible_check_mode": True})
    assert result["changed"] is False and not (tmp_path / "x").exists()


def test_report_refuses_an_incomplete_record(capsys, tmp_path):
    result = _run(capsys, verify_report, {"path": str(tmp_path), "report": {"deployment": "lab"}})
    assert result["failed"] and result["msg"].startswith("verify_report: report has no 'measured_at'")
