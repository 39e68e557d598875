# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""onprem.deepseek.model_url_base: the URL the model_store role and the bundle playbook download a model's files from.

Layouts: a Hugging Face mirror serves the Hub's file URLs, <endpoint>/<repo_id>/resolve/<revision>/<filename> (the
example of huggingface/huggingface_hub src/huggingface_hub/README.md, `hf_hub_url`:
https://huggingface.co/julien-c/EsperBERTo-small/resolve/main/pytorch_model.bin); ModelScope's
<endpoint>/models/<model_id>/resolve/<revision>/<file> is the layout roles/model_store/README.md documents for
modelscope_mirror (its URL rendering was the role's own expression before this filter: the values are the same).
"""

import pytest

from ansible_collections.onprem.deepseek.plugins.filter.model_store import FilterModule
from ansible_collections.onprem.deepseek.plugins.module_utils import model_sources

model_url_base = FilterModule().filters()['model_url_base']


def test_the_hub_example_url_is_the_base_and_the_file_name():
    base = model_url_base('hf_mirror', '', 'https://huggingface.co', 'julien-c/EsperBERTo-small', 'main')
    assert base + '/pytorch_model.bin' == 'https://huggingface.co/julien-c/EsperBERTo-small/resolve/main/pytorch_model.bin'


def test_modelscope_layout_and_revision():
    assert (model_url_base('modelscope_mirror', '', 'https://ms.example.internal', 'deepseek-ai/DeepSeek-V3', 'v1.0')
            == 'https://ms.example.internal/models/deepseek-ai/DeepSeek-V3/resolve/v1.0')


def test_http_is_the_url_as_given_without_a_trailing_slash():
    assert model_url_base('http', 'http://127.0.0.1:8080/tiny/') == 'http://127.0.0.1:8080/tiny'
    assert model_url_base('http', ' http://m/x ') == 'http://m/x'


def test_trailing_and_leading_slashes_do_not_double():
    assert model_url_base('hf_mirror', '', 'https://m/', '/org/repo/', '') == 'https://m/org/repo/resolve/main'


@pytest.mark.parametrize('source', ['controller', 'local', 's3', 'rsync', 'nfs', '', None])
def test_sources_that_do_not_download_over_http_have_no_url(source):
    assert model_url_base(source, 'http://x', 'https://m', 'org/repo') == ''


def test_the_http_sources_are_those_with_a_url():
    assert [s for s in ('controller', 'local', 'http', 's3', 'rsync', 'nfs', 'hf_mirror', 'modelscope_mirror')
            if model_url_base(s, 'http://x', 'https://m', 'o/r')] == list(model_sources.URL_SOURCES)


def test_a_source_without_its_url_has_none():
    assert model_url_base('http', '') == ''
    assert model_url_base('hf_mirror', '', '', 'org/repo') == ''
    assert model_url_base('modelscope_mirror', '', 'https://m', '') == ''
