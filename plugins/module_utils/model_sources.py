# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Where a model's files are downloaded from: one answer for the model_store role and the bundle playbook."""

from __future__ import annotations

# model_store_source values whose files are fetched over HTTP(S), each file from <base>/<name>.
URL_SOURCES = ("http", "hf_mirror", "modelscope_mirror")


def url_base(source, http_url="", mirror_endpoint="", mirror_repo="", mirror_revision="main"):
    """The URL a model's files are below, for model_store_source `source`; '' for a source that is not HTTP.

    http: the URL as given. hf_mirror: a Hugging Face mirror's file layout, <endpoint>/<repo>/resolve/<revision>
    (what huggingface_hub's hf_hub_url builds for HF_ENDPOINT). modelscope_mirror: <endpoint>/models/<repo>/resolve/<revision>.
    A trailing '/' of the endpoint or URL is dropped (the roles join '<base>/<name>'). A source without its URL
    (an empty model_store_http_url, mirror endpoint or repository) has none: ''.
    """
    source = str(source or "")
    if source == "http":
        return str(http_url or "").strip().rstrip("/")
    endpoint = str(mirror_endpoint or "").strip().rstrip("/")
    repo = str(mirror_repo or "").strip().strip("/")
    revision = str(mirror_revision or "main").strip()
    if not endpoint or not repo:
        return ""
    if source == "hf_mirror":
        return "%s/%s/resolve/%s" % (endpoint, repo, revision)
    if source == "modelscope_mirror":
        return "%s/models/%s/resolve/%s" % (endpoint, repo, revision)
    return ""
