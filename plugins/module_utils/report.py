# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""SVG chart of per-GPU memory budgets (weights / KV cache / overhead / free) for gpu_plan results."""

from __future__ import annotations

from html import escape as _html_escape

from ansible_collections.onprem.deepseek.plugins.module_utils import common

SEGMENTS = (
    ("weights_gib", "Weights", "#3b6fb6"),
    ("kv_cache_gib", "KV cache", "#4caf50"),
    ("overhead_gib", "Overhead", "#f39c12"),
    ("free_gib", "Free (outside budget)", "#c8c8c8"),
)


def _esc(text):
    return _html_escape(str(text), quote=True)


def _label(plan, index):
    name = plan.get("deployment") or plan.get("name") or "plan %d" % (index + 1)
    detail = "%s %s on %s" % (plan.get("model", "?"), plan.get("quant", ""), plan.get("gpu", "?"))
    if plan.get("gpus"):
        layout = "DP-attn %d" % plan["gpus"] if plan.get("dp_attention") else "TP%s x PP%s" % (plan.get("tensor_parallel"), plan.get("pipeline_parallel"))
        detail += " (%d GPU, %s)" % (plan["gpus"], layout)
    return name, detail


def plan_svg(plans, title="Per-GPU memory budget", width=900):
    """Render one gpu_plan result, a list of them, or a dict of name -> result, as an SVG document."""
    if isinstance(plans, dict) and "fits" in plans:
        items = [plans]
    elif isinstance(plans, dict):
        items = []
        for key in sorted(plans):
            item = dict(plans[key]) if isinstance(plans[key], dict) else plans[key]
            if isinstance(item, dict):
                item.setdefault("deployment", key)
            items.append(item)
    elif isinstance(plans, (list, tuple)):
        items = list(plans)
    else:
        raise common.SizingError("plans must be a gpu_plan result, a list of them or a dict of them, got %r" % (type(plans).__name__,), "plans", plans)
    if not items:
        raise common.SizingError("plans is empty; give at least one gpu_plan result", "plans", plans)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise common.SizingError("plans[%d] is not a gpu_plan result: %r" % (i, item), "plans", item)
    width = int(width)
    if width < 300:
        raise common.SizingError("width must be >= 300, got %r" % width, "width", width)
    left, right, top = 20, 20, 70
    row_h, bar_h = 78, 26
    chart_w = width - left - right
    scale_max = max(float(p.get("memory_gib") or 0.0) for p in items) or 1.0
    height = top + row_h * len(items) + 40
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Arial, sans-serif">'
        % (width, height, width, height),
        '<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>' % (width, height),
        '<text x="%d" y="28" font-size="18" font-weight="bold">%s</text>' % (left, _esc(title)),
    ]
    lx = left
    for _key, name, color in SEGMENTS:
        out.append('<rect x="%d" y="40" width="14" height="14" fill="%s"/>' % (lx, color))
        out.append('<text x="%d" y="52" font-size="12">%s</text>' % (lx + 18, _esc(name)))
        lx += 30 + 8 * len(name)
    for i, plan in enumerate(items):
        y = top + i * row_h
        name, detail = _label(plan, i)
        out.append('<g class="deployment" data-name="%s">' % _esc(name))
        out.append('<text x="%d" y="%d" font-size="13" font-weight="bold">%s</text>' % (left, y + 14, _esc(name)))
        out.append('<text x="%d" y="%d" font-size="12" fill="#444">%s</text>' % (left + 12 + 9 * len(str(name)), y + 14, _esc(detail)))
        memory = float(plan.get("memory_gib") or 0.0)
        bar_y = y + 22
        total_w = chart_w * memory / scale_max
        out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="none" stroke="#333"/>' % (left, bar_y, total_w, bar_h))
        x = float(left)
        if plan.get("fits") is False and plan.get("reason"):
            value = min(float(plan.get("weights_gib") or 0.0), memory)
            seg_w = chart_w * value / scale_max
            out.append('<rect class="segment" data-kind="weights_gib" data-gib="%.3f" x="%.1f" y="%d" width="%.1f" height="%d" fill="#c0392b"/>'
                       % (value, x, bar_y, seg_w, bar_h))
            out.append('<text x="%d" y="%d" font-size="11" fill="#c0392b">does not fit: %s</text>'
                       % (left, bar_y + bar_h + 14, _esc(str(plan["reason"])[:140])))
        else:
            for key, seg_name, color in SEGMENTS:
                value = max(0.0, float(plan.get(key) or 0.0))
                seg_w = chart_w * value / scale_max
                out.append('<rect class="segment" data-kind="%s" data-gib="%.3f" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s">'
                           '<title>%s: %.2f GiB</title></rect>' % (key, value, x, bar_y, seg_w, bar_h, color, _esc(seg_name), value))
                if seg_w > 48:
                    out.append('<text x="%.1f" y="%d" font-size="11" fill="#fff">%.1f GiB</text>' % (x + 4, bar_y + 17, value))
                x += seg_w
            out.append('<text x="%d" y="%d" font-size="11" fill="#444">%.1f GiB per GPU; KV capacity %s tokens; max concurrency %s at %s tokens</text>'
                       % (left, bar_y + bar_h + 14, memory, "{:,}".format(int(plan.get("kv_tokens") or 0)), plan.get("max_concurrency"),
                          plan.get("max_model_len")))
        out.append('</g>')
    out.append('</svg>')
    return "\n".join(out) + "\n"
