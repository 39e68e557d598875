# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The verify playbook's pure logic: GPU health parsers, comparisons, and the report (Markdown + SVG).

Parsers read what the tools print (nvidia-smi, the kernel log's Xid lines, dcgmi diag, nccl-tests' all_reduce_perf);
tests/unit/plugins/module_utils/test_verify.py feeds them samples in the formats NVIDIA documents, cited there.
"""

from __future__ import absolute_import, division, print_function

import re
from html import escape as _html_escape

# Asked of nvidia-smi for health, in this order (names from `nvidia-smi --help-query-gpu`).
HEALTH_FIELDS = (
    "index", "pci.bus_id", "name", "ecc.mode.current", "ecc.errors.corrected.volatile.total",
    "ecc.errors.uncorrected.volatile.total", "remapped_rows.pending", "remapped_rows.failure", "temperature.gpu",
)
HEALTH_ARGS = ["--query-gpu=" + ",".join(HEALTH_FIELDS), "--format=csv,noheader,nounits"]
_MISSING = ("", "n/a", "[n/a]", "[not supported]", "not supported", "[unknown error]", "[insufficient permissions]")
_NVLINK_GPU_RE = re.compile(r"^GPU\s+(\d+):\s*(.*?)\s*(?:\(UUID:.*\))?\s*$")
_NVLINK_LINK_RE = re.compile(r"^\s*Link\s+(\d+):\s*(.*?)\s*$")
_XID_RE = re.compile(r"NVRM: Xid \((?:PCI:)?([0-9A-Fa-f:.]+)\):\s*(\d+),\s*(.*)$")
_DCGM_ROW_RE = re.compile(r"^\|\s*([^|]+?)\s*\|\s*(Pass|Fail|Warn|Skip)\b", re.IGNORECASE)
_NCCL_BUSBW_RE = re.compile(r"#\s*Avg bus bandwidth\s*:\s*([0-9.]+)")
# Xids NVIDIA's Xid catalogue lists as needing a GPU reset or a node drain (48 DBE, 63/64 row remap, 74 NVLink,
# 79 fallen off the bus, 92 high SBE rate, 94/95 contained/uncontained ECC, 119/120 GSP); others are reported, not flagged.
SERIOUS_XIDS = (48, 63, 64, 74, 79, 92, 94, 95, 119, 120)
# Below this many completed requests in either report, a level's percentiles are anecdotes: only its errors are compared.
MIN_COMPLETED = 5


def _value(text):
    text = text.strip()
    return None if text.lower() in _MISSING else text


def _int(text):
    text = _value(text)
    try:
        return None if text is None else int(float(text))
    except ValueError:
        return None


def parse_health_query(text):
    """GPUs and their problems from `nvidia-smi` with HEALTH_ARGS: {'gpus': [...], 'problems': [sentences]}."""
    gpus, problems = [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != len(HEALTH_FIELDS):
            raise ValueError("nvidia-smi health line has %d fields, expected %d: %r" % (len(cells), len(HEALTH_FIELDS), line))
        gpu = {
            "index": _int(cells[0]), "pci_bus_id": _value(cells[1]), "name": _value(cells[2]), "ecc_mode": _value(cells[3]),
            "ecc_corrected": _int(cells[4]), "ecc_uncorrected": _int(cells[5]),
            "remapped_rows_pending": _value(cells[6]), "remapped_rows_failure": _value(cells[7]), "temperature_c": _int(cells[8]),
        }
        gpus.append(gpu)
        label = "GPU %s (%s)" % (gpu["index"], gpu["pci_bus_id"])
        if gpu["ecc_uncorrected"]:
            problems.append("%s: %d uncorrected ECC error(s) since the driver loaded" % (label, gpu["ecc_uncorrected"]))
        if (gpu["remapped_rows_pending"] or "").lower() == "yes":
            problems.append("%s: a memory row remap is pending (reset the GPU)" % label)
        if (gpu["remapped_rows_failure"] or "").lower() == "yes":
            problems.append("%s: a memory row remap failed (replace the GPU)" % label)
    return {"gpus": gpus, "problems": problems}


def parse_nvlink_status(text):
    """`nvidia-smi nvlink --status`: per GPU its active links and speeds; problems name inactive links of a GPU that has
    active ones (a board without NVLink lists no links and is not a problem)."""
    gpus, problems, current = [], [], None
    for line in text.splitlines():
        match = _NVLINK_GPU_RE.match(line.strip())
        if match:
            current = {"index": int(match.group(1)), "name": match.group(2), "active": 0, "inactive": [], "gb_s": []}
            gpus.append(current)
            continue
        match = _NVLINK_LINK_RE.match(line)
        if match and current is not None:
            state = match.group(2)
            speed = re.match(r"([0-9.]+)\s*GB/s", state)
            if speed:
                current["active"] += 1
                current["gb_s"].append(float(speed.group(1)))
            else:
                current["inactive"].append(int(match.group(1)))
    for gpu in gpus:
        if gpu["active"] and gpu["inactive"]:
            problems.append("GPU %d: NVLink link(s) %s inactive while %d are up"
                            % (gpu["index"], ", ".join(str(i) for i in gpu["inactive"]), gpu["active"]))
    return {"gpus": gpus, "links_active": sum(g["active"] for g in gpus), "problems": problems}


def parse_xid(text):
    """Xid events in kernel log text (`NVRM: Xid (PCI:0000:3b:00): 79, ...`): {'events': [...], 'problems': [...]}."""
    events = []
    for line in text.splitlines():
        match = _XID_RE.search(line)
        if match:
            events.append({"pci": match.group(1), "xid": int(match.group(2)), "detail": match.group(3).strip()[:200]})
    serious = [e for e in events if e["xid"] in SERIOUS_XIDS]
    problems = ["Xid %d on %s: %s" % (e["xid"], e["pci"], e["detail"]) for e in serious]
    return {"events": events, "count": len(events), "problems": problems}


def parse_dcgmi_diag(text):
    """Rows of `dcgmi diag -r 1`'s result table: {'tests': {name: result}, 'problems': [failed tests]}."""
    tests = {}
    for line in text.splitlines():
        match = _DCGM_ROW_RE.match(line.strip())
        if match and match.group(1).lower() not in ("diagnostic", "result"):
            tests[match.group(1)] = match.group(2).capitalize()
    problems = ["dcgmi diag: %s %s" % (name, result.lower()) for name, result in sorted(tests.items()) if result == "Fail"]
    return {"tests": tests, "problems": problems}


def parse_all_reduce_perf(text):
    """nccl-tests' all_reduce_perf summary: average bus bandwidth (GB/s) and the largest size's row."""
    match = _NCCL_BUSBW_RE.search(text)
    if not match:
        raise ValueError("no '# Avg bus bandwidth' line in all_reduce_perf's output")
    rows = []
    for line in text.splitlines():
        cells = line.split()
        # size count type redop [root] | out-of-place time algbw busbw #wrong | in-place time algbw busbw #wrong
        # (nccl-tests before 2.10 print no root column)
        if len(cells) in (12, 13) and cells[0].isdigit():
            shift = len(cells) - 12
            try:
                rows.append({"bytes": int(cells[0]), "busbw_gb_s": float(cells[6 + shift]), "inplace_busbw_gb_s": float(cells[10 + shift])})
            except (ValueError, IndexError):
                continue
    wrong = re.search(r"#\s*Out of bounds values\s*:\s*(\d+)", text)
    return {"avg_busbw_gb_s": float(match.group(1)), "largest": rows[-1] if rows else None,
            "out_of_bounds": int(wrong.group(1)) if wrong else None}


def _change(now, before):
    if now is None or before in (None, 0):
        return None
    return round((float(now) - float(before)) / float(before) * 100.0, 1)


def compare(levels, previous_levels, threshold_pct=10.0):
    """Each level against the previous report's level of the same concurrency: changes in % and regressions
    (p99 latency or TTFT p99 up, or output tokens/s down, by more than threshold_pct; more errors). Percentiles of a
    level with fewer than MIN_COMPLETED completed requests (in either report) are not compared (n/a)."""
    before = dict((p["concurrency"], p) for p in previous_levels or [])
    rows, regressions = [], []
    for level in levels:
        old = before.get(level["concurrency"])
        if old is None:
            continue
        row = {
            "concurrency": level["concurrency"],
            "latency_p99_pct": _change(level["latency_s"]["p99"], old["latency_s"]["p99"]),
            "ttft_p99_pct": _change(level["ttft_ms"]["p99"], old["ttft_ms"]["p99"]),
            "tokens_per_s_pct": _change(level["output_tokens_per_s"], old["output_tokens_per_s"]),
            "errors_before": old["errors"], "errors_now": level["errors"],
        }
        tag = "concurrency %d" % level["concurrency"]
        if min(level["completed"], old["completed"]) < MIN_COMPLETED:
            row.update(latency_p99_pct=None, ttft_p99_pct=None, tokens_per_s_pct=None)
        rows.append(row)
        if row["latency_p99_pct"] is not None and row["latency_p99_pct"] > threshold_pct:
            regressions.append("%s: request latency p99 %s s -> %s s (+%s%%)"
                               % (tag, old["latency_s"]["p99"], level["latency_s"]["p99"], row["latency_p99_pct"]))
        if row["ttft_p99_pct"] is not None and row["ttft_p99_pct"] > threshold_pct:
            regressions.append("%s: TTFT p99 %s ms -> %s ms (+%s%%)" % (tag, old["ttft_ms"]["p99"], level["ttft_ms"]["p99"], row["ttft_p99_pct"]))
        if row["tokens_per_s_pct"] is not None and row["tokens_per_s_pct"] < -threshold_pct:
            regressions.append("%s: output tokens/s %s -> %s (%s%%)"
                               % (tag, old["output_tokens_per_s"], level["output_tokens_per_s"], row["tokens_per_s_pct"]))
        if level["errors"] > old["errors"]:
            regressions.append("%s: errors %d -> %d" % (tag, old["errors"], level["errors"]))
    return {"rows": rows, "regressions": regressions}


def plan_findings(levels, plan, prompt_tokens_note=""):
    """What the plan promised (max concurrency, context length) against what the load test saw."""
    if not isinstance(plan, dict) or plan.get("skipped") or not plan.get("max_concurrency"):
        reason = (plan or {}).get("reason", "no plan") if isinstance(plan, dict) else "no plan"
        return {"promised": None, "findings": ["no plan to compare with (%s)" % reason]}
    promised = {"max_concurrency": int(plan["max_concurrency"]), "max_model_len": plan.get("max_model_len")}
    findings = []
    at = [level for level in levels if level["concurrency"] == promised["max_concurrency"]]
    if at:
        level = at[0]
        findings.append("at the planned %d concurrent sequences: %d of %d requests completed, %s errors"
                        % (promised["max_concurrency"], level["completed"], level["requests"], level["errors"]))
    else:
        highest = max([level["concurrency"] for level in levels] or [0])
        findings.append("the planned %d concurrent sequences were not tested (highest level %d)" % (promised["max_concurrency"], highest))
    findings.append("context length: planned %s tokens; the load test's requests are short%s, so the context length is "
                    "reported, not exercised" % (promised["max_model_len"], prompt_tokens_note))
    return {"promised": promised, "findings": findings}


def _fmt(value, unit=""):
    if value is None:
        return "n/a"
    return "%s%s%s" % ("+" if unit == "%" and value > 0 else "", value, unit)


def _section_line(name, section):
    status = section.get("status", "skipped")
    if status == "skipped":
        return "- %s: skipped: %s" % (name, section.get("reason", "not run"))
    text = "- %s: %s" % (name, status)
    if section.get("summary"):
        text += " (%s)" % section["summary"]
    for problem in section.get("problems", []):
        text += "\n  - %s" % problem
    return text


def render_markdown(report):
    """The report of one deployment as Markdown."""
    out = ["# Verify report: %s" % report["deployment"], "",
           "Measured %s by `onprem.deepseek.verify`; load test: %s." % (report["measured_at"], report["bench"]["tool"]), ""]
    bench = report["bench"]
    out += ["## Serving load test", ""]
    if bench.get("status") == "skipped":
        out += ["skipped: %s" % bench.get("reason", ""), ""]
    else:
        out += ["Through %s (host %s, model `%s`, key `%s`), %s output tokens per request at most, up to %s requests or %s s per level."
                % (bench["url"], bench["host"], bench["model"], bench["key_name"], bench["max_tokens"], bench["requests"], bench["max_seconds"]),
                "",
                "| concurrency | requests | errors | TTFT p50 / p99 (ms) | ITL p50 / p99 (ms) | output tok/s | latency p50 / p99 (s) |",
                "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for lv in bench["levels"]:
            out.append("| %d | %d | %d | %s / %s | %s / %s | %s | %s / %s |" % (
                lv["concurrency"], lv["requests"], lv["errors"], _fmt(lv["ttft_ms"]["p50"]), _fmt(lv["ttft_ms"]["p99"]),
                _fmt(lv["itl_ms"]["p50"]), _fmt(lv["itl_ms"]["p99"]), _fmt(lv["output_tokens_per_s"]),
                _fmt(lv["latency_s"]["p50"]), _fmt(lv["latency_s"]["p99"])))
        kinds = ["concurrency %d: %s" % (lv["concurrency"], ", ".join("%s x%d" % (k, n) for k, n in sorted(lv["error_kinds"].items())))
                 for lv in bench["levels"] if lv["error_kinds"]]
        out += [""] + (["Errors: " + "; ".join(kinds), ""] if kinds else []) + ["![latency vs concurrency](latency.svg)", ""]
    out += ["## Against the plan", ""] + ["- %s" % f for f in report["plan"]["findings"]] + [""]
    out += ["## Against the previous report", ""]
    comparison = report.get("comparison")
    if not comparison:
        out += ["no previous report in this directory: this one is the baseline", ""]
    else:
        note = (" n/a: fewer than %d completed requests at that level in one of the reports (errors only)." % MIN_COMPLETED
                if any(row["latency_p99_pct"] is None for row in comparison["rows"]) else "")
        out += ["Previous: %s; threshold %s%%.%s" % (comparison["previous_measured_at"], comparison["threshold_pct"], note), "",
                "| concurrency | latency p99 | TTFT p99 | output tok/s | errors |", "| ---: | ---: | ---: | ---: | ---: |"]
        for row in comparison["rows"]:
            out.append("| %d | %s | %s | %s | %d -> %d |"
                       % (row["concurrency"], _fmt(row["latency_p99_pct"], "%"), _fmt(row["ttft_p99_pct"], "%"),
                          _fmt(row["tokens_per_s_pct"], "%"), row["errors_before"], row["errors_now"]))
        out += [""] + (["**Regressions:**"] + ["- %s" % r for r in comparison["regressions"]] if comparison["regressions"]
                       else ["No regression beyond the threshold."]) + [""]
    out += ["## Hosts", ""]
    for host in report["hosts"]:
        out.append("### %s" % host["host"])
        out.append("")
        for name in ("gpu", "nvlink", "xid", "dcgm", "nccl", "fabric"):
            out.append(_section_line(name, host["sections"].get(name, {"status": "skipped", "reason": "not collected"})))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _esc(text):
    return _html_escape(str(text), quote=True)


def latency_svg(report, width=720, height=360):
    """Request latency p50/p99 and TTFT p99 (seconds) against concurrency, one polyline each, as an SVG document."""
    levels = [lv for lv in report["bench"].get("levels", []) if lv["latency_s"]["p50"] is not None]
    left, right, top, bottom = 70, 160, 50, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    series = (("latency p50", "#3b6fb6", lambda lv: lv["latency_s"]["p50"]),
              ("latency p99", "#c0392b", lambda lv: lv["latency_s"]["p99"]),
              ("TTFT p99", "#4caf50", lambda lv: None if lv["ttft_ms"]["p99"] is None else lv["ttft_ms"]["p99"] / 1000.0))
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Arial, sans-serif">'
           % (width, height, width, height),
           '<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>' % (width, height),
           '<text x="%d" y="28" font-size="16" font-weight="bold">%s</text>'
           % (left, _esc("Latency vs concurrency: %s (%s)" % (report["deployment"], report["measured_at"])))]
    if not levels:
        out.append('<text x="%d" y="%d" font-size="13">%s</text>' % (left, top + 40, _esc("no completed request to draw")))
        return "\n".join(out + ["</svg>"]) + "\n"
    xs = [lv["concurrency"] for lv in levels]
    y_max = max(f(lv) or 0.0 for _n, _c, f in series for lv in levels) or 1.0
    x_min, x_max = min(xs), max(xs)

    def px(c):
        return left + (plot_w / 2.0 if x_max == x_min else (c - x_min) * plot_w / float(x_max - x_min))

    def py(v):
        return top + plot_h - v * plot_h / (y_max * 1.1)

    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444"/>' % (left, top + plot_h, left + plot_w, top + plot_h))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444"/>' % (left, top, left, top + plot_h))
    for c in xs:
        out.append('<text x="%.1f" y="%d" font-size="11" text-anchor="middle">%d</text>' % (px(c), top + plot_h + 16, c))
    for i in range(5):
        v = y_max * 1.1 * i / 4.0
        out.append('<text x="%d" y="%.1f" font-size="11" text-anchor="end">%.2f</text>' % (left - 6, py(v) + 4, v))
    out.append('<text x="%.1f" y="%d" font-size="12" text-anchor="middle">concurrent requests</text>' % (left + plot_w / 2.0, height - 10))
    out.append('<text x="16" y="%.1f" font-size="12" transform="rotate(-90 16 %.1f)" text-anchor="middle">seconds</text>'
               % (top + plot_h / 2.0, top + plot_h / 2.0))
    for i, (name, color, f) in enumerate(series):
        points = [(px(lv["concurrency"]), py(f(lv))) for lv in levels if f(lv) is not None]
        out.append('<g class="series" data-name="%s">' % _esc(name))
        if points:
            out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                       % (color, " ".join("%.1f,%.1f" % p for p in points)))
            out += ['<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (x, y, color) for x, y in points]
        out.append("</g>")
        out.append('<rect x="%d" y="%d" width="14" height="14" fill="%s"/>' % (left + plot_w + 16, top + i * 22, color))
        out.append('<text x="%d" y="%d" font-size="12">%s</text>' % (left + plot_w + 36, top + i * 22 + 12, _esc(name)))
    return "\n".join(out + ["</svg>"]) + "\n"
