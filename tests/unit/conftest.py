# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Make `ansible_collections.onprem.deepseek` importable from this checkout.

The repository root is the collection root; `<repo>/.collections/ansible_collections/onprem/deepseek`
is a symlink to it.  The path is computed from this file, never hard-coded.
"""

from __future__ import annotations

import os
import sys

import pytest

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, ".collections")

if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)


@pytest.fixture(scope="session")
def filters():
    from ansible_collections.onprem.deepseek.plugins.filter.sizing import FilterModule

    return FilterModule().filters()


@pytest.fixture(scope="session")
def tests():
    from ansible_collections.onprem.deepseek.plugins.test.cuda import TestModule

    return TestModule().tests()
