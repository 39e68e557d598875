# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The shape of plugins/module_utils: small modules, one concern each, no import cycles.

sizing.py is a facade kept for outside callers (benchmarks); the plugins and the other
module_utils import the module that holds a name, so that none of them drags the whole engine in.
"""

from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, os.pardir, os.pardir))
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
PACKAGE = "ansible_collections.onprem.deepseek.plugins.module_utils"
MAX_LINES = 400
# Data tables, not logic: their length is the number of models and GPUs they list.
DATA_TABLES = ("catalog.py",)


def _py_files(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(".py") and name != "__init__.py")


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _module_utils_imports(path):
    """The module_utils modules a file imports, in either `from PACKAGE import x` or `from PACKAGE.x import y` form."""
    found = set()
    for node in ast.walk(ast.parse(_read(path), path)):
        if isinstance(node, ast.ImportFrom) and node.module == PACKAGE:
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE + "."):
            found.add(node.module[len(PACKAGE) + 1:].split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(a.name[len(PACKAGE) + 1:].split(".")[0] for a in node.names if a.name.startswith(PACKAGE + "."))
    return found


@pytest.mark.parametrize("name", [n for n in _py_files(MODULE_UTILS) if n not in DATA_TABLES])
def test_no_module_utils_file_is_over_the_limit(name):
    lines = len(_read(os.path.join(MODULE_UTILS, name)).splitlines())
    assert lines <= MAX_LINES, "plugins/module_utils/%s has %d lines, more than %d: split it along a seam" % (name, lines, MAX_LINES)


def _plugin_files():
    out = []
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "plugins")):
        out.extend(os.path.relpath(os.path.join(folder, f), ROOT) for f in files if f.endswith(".py"))
    return sorted(p for p in out if p != os.path.join("plugins", "module_utils", "sizing.py"))


@pytest.mark.parametrize("path", _plugin_files())
def test_plugins_do_not_import_the_sizing_facade(path):
    assert "sizing" not in _module_utils_imports(os.path.join(ROOT, path))


def test_report_does_not_import_sizing():
    # report.py needs only the error class, which lives in common.py
    assert "sizing" not in _module_utils_imports(os.path.join(MODULE_UTILS, "report.py"))


def test_module_utils_imports_have_no_cycle():
    graph = dict((name[:-3], _module_utils_imports(os.path.join(MODULE_UTILS, name))) for name in _py_files(MODULE_UTILS))
    done, path = set(), []

    def visit(node):
        assert node not in path, "import cycle: %s" % " -> ".join(path[path.index(node):] + [node])
        if node in done:
            return
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            visit(dep)
        path.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)
