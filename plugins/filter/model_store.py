# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Model store filters of onprem.deepseek (documented in the sidecar <name>.yml files); the logic is in
plugins/module_utils/model_sources.py."""

from __future__ import annotations

from ansible_collections.onprem.deepseek.plugins.module_utils import model_sources


def model_url_base(source, http_url="", mirror_endpoint="", mirror_repo="", mirror_revision="main"):
    return model_sources.url_base(source, http_url, mirror_endpoint, mirror_repo, mirror_revision)


class FilterModule(object):
    """onprem.deepseek model store filters."""

    def filters(self):
        return {"model_url_base": model_url_base}
