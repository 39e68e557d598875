# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The GitHub Actions workflow and the GitLab CI file are thin wrappers over scripts/dev.

Neither can run here, so this proves what can be proven offline: after the checkout every command a
job runs is `./scripts/dev <tier>` with a tier scripts/dev knows, every job sets up first, lint,
sanity and unit each have a job, every Molecule scenario under molecule/ is its own job (and only
those), and yamllint --strict accepts both files.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml

from conftest import REPO_ROOT

GITHUB = os.path.join(REPO_ROOT, ".github", "workflows", "ci.yml")
GITLAB = os.path.join(REPO_ROOT, ".gitlab-ci.yml")
YAMLLINT = os.path.join(os.path.dirname(sys.executable), "yamllint")

# GitLab's top-level keywords that are not jobs.
GITLAB_KEYWORDS = {"default", "include", "stages", "variables", "workflow", "image", "services", "cache", "before_script",
                   "after_script"}


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _scenarios():
    root = os.path.join(REPO_ROOT, "molecule")
    return sorted(name for name in os.listdir(root) if os.path.exists(os.path.join(root, name, "molecule.yml")))


def _dev_commands():
    """The commands scripts/dev dispatches (its final `case`)."""
    with open(os.path.join(REPO_ROOT, "scripts", "dev"), encoding="utf-8") as handle:
        text = handle.read()
    commands = set()
    for pattern in re.findall(r"^\s*([a-z|]+)\)", text, flags=re.M):
        commands.update(pattern.split("|"))
    return commands - {"h", "help"}


def _check_commands(job, commands, scenario_variable):
    """Every command is ./scripts/dev TIER [ARG]; setup comes first; returns the tiers it runs."""
    tiers = []
    for command in commands:
        match = re.fullmatch(r"\./scripts/dev ([a-z]+)(?: (.+))?", command.strip())
        assert match, "%s: %r is not a scripts/dev command" % (job, command)
        tier, argument = match.group(1), (match.group(2) or "").strip('"')
        assert tier in _dev_commands(), "%s: scripts/dev has no command %r" % (job, tier)
        if tier == "molecule":
            assert argument == scenario_variable, "%s: molecule runs %r, not the job's scenario %s" % (job, argument, scenario_variable)
        tiers.append(tier)
    assert tiers and tiers[0] == "setup", "%s: does not start with ./scripts/dev setup: %s" % (job, tiers)
    return tiers


def test_scripts_dev_commands_read():
    assert {"setup", "images", "lint", "sanity", "unit", "molecule", "test"} <= _dev_commands()


def test_github_workflow_is_a_thin_wrapper():
    workflow = _load(GITHUB)
    assert {"push", "pull_request"} <= set(workflow["on"]), "the workflow must run on pushes and pull requests"
    seen = set()
    for name, job in workflow["jobs"].items():
        steps = job["steps"]
        checkout = [i for i, step in enumerate(steps) if str(step.get("uses", "")).startswith("actions/checkout@")]
        assert checkout, "%s: no actions/checkout step" % name
        commands = [step["run"] for step in steps[checkout[0] + 1:] if "run" in step]
        assert all("uses" not in step for step in steps[checkout[0] + 1:]), "%s: an action after the checkout" % name
        tiers = _check_commands(name, commands, "${{ matrix.scenario }}")
        seen.update(tiers)
        if "molecule" in tiers:
            assert job["strategy"]["fail-fast"] is False, "a failing scenario must not cancel the others"
            assert sorted(job["strategy"]["matrix"]["scenario"]) == _scenarios()
    assert {"lint", "sanity", "unit", "molecule"} <= seen


def test_gitlab_ci_is_a_thin_wrapper():
    pipeline = _load(GITLAB)
    default = pipeline.get("default", {})
    seen = set()
    jobs = {name: job for name, job in pipeline.items() if name not in GITLAB_KEYWORDS and not name.startswith(".")}
    assert jobs
    for name, job in jobs.items():
        commands = list(job.get("before_script", default.get("before_script", []))) + list(job["script"])
        tiers = _check_commands(name, commands, "$SCENARIO")
        seen.update(tiers)
        if "molecule" in tiers:
            (matrix,) = job["parallel"]["matrix"]
            assert sorted(matrix["SCENARIO"]) == _scenarios()
    assert {"lint", "sanity", "unit", "molecule"} <= seen


@pytest.mark.skipif(not os.path.exists(YAMLLINT), reason="yamllint not installed beside this Python")
def test_yamllint_accepts_both():
    proc = subprocess.run([YAMLLINT, "--strict", GITHUB, GITLAB], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout


def test_development_doc_names_both():
    with open(os.path.join(REPO_ROOT, "docs", "development.md"), encoding="utf-8") as handle:
        text = handle.read()
    assert ".github/workflows/ci.yml" in text and ".gitlab-ci.yml" in text
