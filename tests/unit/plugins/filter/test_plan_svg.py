# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""onprem.deepseek.plan_svg: the chart is valid SVG whose segments add up to each GPU's memory."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ansible.errors import AnsibleFilterError

SVG = "{http://www.w3.org/2000/svg}"


def test_segments_add_up(filters):
    plans = {
        "v3_h200": filters["gpu_plan"]("DeepSeek-V3", "H200"),
        "distill_l40s": filters["gpu_plan"]("DeepSeek-R1-Distill-Qwen-32B", "L40S", quant="awq", max_model_len=32768),
    }
    svg = filters["plan_svg"](plans, "test & chart")
    root = ET.fromstring(svg.split("\n", 1)[1])
    assert root.tag == SVG + "svg"
    groups = root.findall(SVG + "g")
    assert [g.get("data-name") for g in groups] == ["distill_l40s", "v3_h200"]
    for group in groups:
        plan = plans[group.get("data-name")]
        segs = dict((r.get("data-kind"), float(r.get("data-gib"))) for r in group.findall(SVG + "rect") if r.get("data-kind"))
        assert set(segs) == {"weights_gib", "kv_cache_gib", "overhead_gib", "free_gib"}
        assert sum(segs.values()) == pytest.approx(plan["memory_gib"], abs=0.01)
    assert "test &amp; chart" in svg


def test_not_fitting_plan_is_drawn_with_reason(filters):
    plan = filters["gpu_plan"]("DeepSeek-V3", "H100", max_nodes=1)
    svg = filters["plan_svg"](plan)
    ET.fromstring(svg.split("\n", 1)[1])
    assert "does not fit" in svg


def test_bad_input(filters):
    with pytest.raises(AnsibleFilterError) as err:
        filters["plan_svg"]([])
    assert str(err.value) == "onprem.deepseek.plan_svg: plans is empty; give at least one gpu_plan result"
