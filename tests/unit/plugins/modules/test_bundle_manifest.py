# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""bundle_manifest: query, present (idempotent, check mode) and verified on a small bundle directory."""

from __future__ import annotations

import hashlib
import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.onprem.deepseek.plugins.modules import bundle_manifest

PARTS = [
    {'name': 'model-tiny-v1', 'kind': 'model', 'paths': ['models/tiny-v1'], 'input': 'manifest v1', 'version': 'tiny-v1',
     'expected': {'models/tiny-v1/tiny.gguf': hashlib.sha256(b'weights').hexdigest()}},
    {'name': 'wheels', 'kind': 'wheel', 'paths': ['wheels'], 'input': 'requirements v1'},
]


@pytest.fixture
def root(tmp_path):
    (tmp_path / 'models/tiny-v1').mkdir(parents=True)
    (tmp_path / 'models/tiny-v1/tiny.gguf').write_bytes(b'weights')
    (tmp_path / 'wheels').mkdir()
    (tmp_path / 'wheels/passlib-1.7.4-py2.py3-none-any.whl').write_bytes(b'wheel')
    return tmp_path


def _run(capsys, args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            bundle_manifest.main()
    return json.loads(capsys.readouterr().out)


def test_present_writes_once_then_reports_no_change(root, capsys):
    first = _run(capsys, {'path': str(root), 'parts': PARTS, 'about': {'suite': 'bookworm'}})
    assert (first['changed'], first['written']) == (True, ['SHA256SUMS', 'bundle.json'])
    assert [a['path'] for a in first['manifest']['artifacts']] == ['models/tiny-v1/tiny.gguf', 'wheels/passlib-1.7.4-py2.py3-none-any.whl']
    text = (root / 'bundle.json').read_text()
    second = _run(capsys, {'path': str(root), 'parts': PARTS, 'about': {'suite': 'bookworm'}})
    assert (second['changed'], second['written']) == (False, [])
    assert (root / 'bundle.json').read_text() == text


def test_check_mode_writes_nothing(root, capsys):
    result = _run(capsys, {'path': str(root), 'parts': PARTS}, check_mode=True)
    assert result['changed'] is True
    assert not (root / 'bundle.json').exists() and not (root / 'SHA256SUMS').exists()


def test_query_names_only_the_part_whose_input_changed(root, capsys):
    _run(capsys, {'path': str(root), 'parts': PARTS})
    parts = [dict(PARTS[0]), dict(PARTS[1], input='requirements v2')]
    result = _run(capsys, {'path': str(root), 'state': 'query', 'parts': parts})
    assert result['changed'] is False
    assert (result['refetch'], result['keep'], result['remove']) == ({'wheels': 'its input changed'}, ['model-tiny-v1'], [])


def test_verified_passes_then_fails_naming_the_problems(root, capsys):
    _run(capsys, {'path': str(root), 'parts': PARTS})
    assert _run(capsys, {'path': str(root), 'state': 'verified'})['problems'] == []
    (root / 'models/tiny-v1/tiny.gguf').write_bytes(b'weightz')
    (root / 'wheels/extra.whl').write_bytes(b'x')
    result = _run(capsys, {'path': str(root), 'state': 'verified'})
    assert result['failed'] is True
    assert result['msg'] == (
        'onprem.deepseek.bundle_manifest: the bundle %s does not match its manifest: 1 file(s) not in the manifest: wheels/extra.whl; '
        '1 file(s) differ from the manifest: models/tiny-v1/tiny.gguf (SHA-256 %s, recorded %s)'
        % (root, hashlib.sha256(b'weightz').hexdigest(), hashlib.sha256(b'weights').hexdigest()))


def test_verified_without_a_manifest(root, capsys):
    result = _run(capsys, {'path': str(root), 'state': 'verified'})
    assert result['msg'] == ('onprem.deepseek.bundle_manifest: %s has no bundle.json and no SHA256SUMS: not a bundle, or one whose build '
                             'did not finish' % root)


def test_a_model_file_that_does_not_match_fails_present(root, capsys):
    (root / 'models/tiny-v1/tiny.gguf').write_bytes(b'other')
    result = _run(capsys, {'path': str(root), 'parts': PARTS})
    assert result['msg'] == ('onprem.deepseek.bundle_manifest: %s: part model-tiny-v1: 1 file(s) do not match the manifest of its source: '
                             'models/tiny-v1/tiny.gguf (SHA-256 %s, expected %s)'
                             % (root, hashlib.sha256(b'other').hexdigest(), hashlib.sha256(b'weights').hexdigest()))
    assert not (root / 'bundle.json').exists()
