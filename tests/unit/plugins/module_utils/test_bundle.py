# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The air-gapped bundle's manifest, re-fetch decision and verification (module_utils/bundle.py)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.onprem.deepseek.plugins.module_utils import bundle

FILES = {
    # apt-get download writes the epoch's colon and a "+" URL-quoted.
    'apt/bookworm/pool/curl_7.88.1-10%2bdeb12u12_amd64.deb': b'curl deb',
    'apt/bookworm/pool/libc6_2.36-9%2bdeb12u10_amd64.deb': b'libc6 deb',
    'apt/bookworm/Release': b'Origin: onprem-deepseek-test-mirror\n',
    'images/docker.io_vllm_vllm-openai_v0.11.0.oci.tar': b'oci archive',
    'models/tiny-v1/tiny.gguf': b'GGUF weights',
    'models/tiny-v1.json': b'[{"name": "tiny.gguf"}]',
    'wheels/PyYAML-6.0.2-cp311-cp311-manylinux_2_17_x86_64.whl': b'wheel',
    'wheels/passlib-1.7.4.tar.gz': b'sdist',
    'wheels/requirements.txt': b'passlib==1.7.4\n',
    'collections/onprem-deepseek-0.1.0.tar.gz': b'collection',
}


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _parts(model_input='manifest v1', image_input='docker.io/vllm/vllm-openai:v0.11.0 sha256:aaaa'):
    return [
        {'name': 'apt-bookworm', 'kind': 'deb', 'paths': ['apt/bookworm'], 'input': 'bookworm Release 1',
         'source': 'scripts/mirror/build-apt-mirror.sh', 'version': 'bookworm'},
        {'name': 'image-vllm', 'kind': 'image', 'paths': ['images/docker.io_vllm_vllm-openai_v0.11.0.oci.tar'], 'input': image_input,
         'source': 'podman save', 'artifact_name': 'docker.io/vllm/vllm-openai', 'version': 'v0.11.0'},
        {'name': 'model-tiny-v1', 'kind': 'model', 'paths': ['models/tiny-v1', 'models/tiny-v1.json'], 'input': model_input,
         'source': '/data/tiny', 'version': 'tiny-v1',
         'expected': {'models/tiny-v1/tiny.gguf': _sha(b'GGUF weights'), 'models/tiny-v1.json': _sha(b'[{"name": "tiny.gguf"}]')}},
        {'name': 'wheels', 'kind': 'wheel', 'paths': ['wheels'], 'input': 'requirements 1', 'source': 'pip download'},
        {'name': 'collection', 'kind': 'collection', 'paths': ['collections/onprem-deepseek-0.1.0.tar.gz'], 'input': 'c 1',
         'source': 'ansible-galaxy collection build'},
    ]


@pytest.fixture
def root(tmp_path):
    for path, data in FILES.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return tmp_path


def _write_bundle(root, parts=None):
    parts = parts or _parts()
    records = bundle.collect(str(root), parts)
    document = bundle.manifest(records, parts, {'apt_suite': 'bookworm'})
    (root / bundle.MANIFEST).write_text(bundle.render_manifest(document))
    (root / bundle.SUMS).write_text(bundle.render_sums(records))
    return document


def test_every_file_is_an_artifact_with_kind_name_version_hash_size_path_source(root):
    document = _write_bundle(root)
    by_path = dict((a['path'], a) for a in document['artifacts'])
    assert sorted(by_path) == sorted(FILES)
    assert by_path['apt/bookworm/pool/curl_7.88.1-10%2bdeb12u12_amd64.deb'] == {
        'kind': 'deb', 'name': 'curl', 'version': '7.88.1-10+deb12u12', 'sha256': _sha(b'curl deb'), 'size': 8,
        'path': 'apt/bookworm/pool/curl_7.88.1-10%2bdeb12u12_amd64.deb', 'source': 'scripts/mirror/build-apt-mirror.sh',
        'part': 'apt-bookworm'}
    names = dict((p, (a['kind'], a['name'], a['version'])) for p, a in by_path.items())
    assert names['apt/bookworm/Release'] == ('deb', 'Release', 'bookworm')
    assert names['images/docker.io_vllm_vllm-openai_v0.11.0.oci.tar'] == ('image', 'docker.io/vllm/vllm-openai', 'v0.11.0')
    assert names['models/tiny-v1/tiny.gguf'] == ('model', 'models/tiny-v1/tiny.gguf', 'tiny-v1')
    assert names['wheels/PyYAML-6.0.2-cp311-cp311-manylinux_2_17_x86_64.whl'] == ('wheel', 'PyYAML', '6.0.2')
    assert names['wheels/passlib-1.7.4.tar.gz'] == ('wheel', 'passlib', '1.7.4')
    assert names['collections/onprem-deepseek-0.1.0.tar.gz'] == ('collection', 'onprem.deepseek', '0.1.0')
    assert (document['format'], document['files'], document['bytes']) == (1, len(FILES), sum(len(d) for d in FILES.values()))
    assert document['about'] == {'apt_suite': 'bookworm'}


def test_the_manifest_records_the_input_digest_not_the_input(root):
    parts = _parts(model_input='https://mirror.internal/?token=s3cret')
    document = _write_bundle(root, parts)
    assert 's3cret' not in bundle.render_manifest(document)
    assert document['parts']['model-tiny-v1']['input'] == _sha(b'https://mirror.internal/?token=s3cret')


def test_sha256sums_is_what_gnu_sha256sum_checks(root):
    _write_bundle(root)
    result = subprocess.run(['sha256sum', '--check', '--quiet', bundle.SUMS], cwd=str(root), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rendering_is_stable(root):
    first = bundle.render_manifest(_write_bundle(root))
    assert bundle.render_manifest(_write_bundle(root)) == first


def test_a_model_file_that_is_not_what_its_manifest_says_is_refused(root):
    (root / 'models/tiny-v1/tiny.gguf').write_bytes(b'other weights')
    (root / 'models/tiny-v1/stray.bin').write_bytes(b'x')
    with pytest.raises(bundle.BundleError) as exc:
        bundle.collect(str(root), _parts())
    assert str(exc.value) == (
        'part model-tiny-v1: 2 file(s) do not match the manifest of its source: models/tiny-v1/stray.bin (not listed), '
        'models/tiny-v1/tiny.gguf (SHA-256 %s, expected %s)' % (_sha(b'other weights'), _sha(b'GGUF weights')))


@pytest.mark.parametrize('change,message', [
    (lambda parts: parts.append(dict(parts[3], name='wheels-again')),
     'wheels/PyYAML-6.0.2-cp311-cp311-manylinux_2_17_x86_64.whl belongs to two parts: wheels and wheels-again'),
    (lambda parts: parts[1].update(paths=['images/absent.oci.tar']), 'part image-vllm: images/absent.oci.tar is missing from the bundle'),
    (lambda parts: parts[1].update(kind='iso'), 'part image-vllm: kind "iso" is not one of deb, image, model, wheel, collection'),
    (lambda parts: parts[1].update(paths=['../etc']), 'part image-vllm: path "../etc" must be relative, inside the bundle and not bundle.json or SHA256SUMS'),
])
def test_parts_the_bundle_cannot_be_built_from(root, change, message):
    parts = _parts()
    change(parts)
    with pytest.raises(bundle.BundleError) as exc:
        bundle.collect(str(root), parts)
    assert str(exc.value) == message


def test_unchanged_parts_keep_their_recorded_hash_unless_rehashed(root):
    old = _write_bundle(root)
    path = root / 'models/tiny-v1.json'
    stat = path.stat()
    path.write_bytes(b'[{"name": "tiny.gguX"}]')  # same size, mtime put back: only a full hash sees it
    os.utime(str(path), ns=(stat.st_atime_ns, stat.st_mtime_ns))
    written = os.path.getmtime(str(root / bundle.MANIFEST))
    parts = [dict(p, expected={}) for p in _parts()]
    reused = dict((r['path'], r['sha256']) for r in bundle.collect(str(root), parts, old=old, reuse_before=written))
    rehashed = dict((r['path'], r['sha256']) for r in bundle.collect(str(root), parts, old=old, reuse_before=None))
    assert reused['models/tiny-v1.json'] == _sha(b'[{"name": "tiny.gguf"}]')
    assert rehashed['models/tiny-v1.json'] == _sha(b'[{"name": "tiny.gguX"}]')


def test_no_manifest_fetches_every_part(root):
    decision = bundle.plan(str(root), None, _parts())
    assert decision['refetch'] == dict((p['name'], 'the bundle has no bundle.json yet') for p in _parts())
    assert (decision['keep'], decision['remove']) == ([], [])


def test_a_rerun_with_the_same_inputs_fetches_nothing(root):
    old = _write_bundle(root)
    assert bundle.plan(str(root), old, _parts()) == {
        'refetch': {}, 'keep': ['apt-bookworm', 'collection', 'image-vllm', 'model-tiny-v1', 'wheels'], 'remove': []}


def test_one_changed_input_fetches_only_that_part(root):
    old = _write_bundle(root)
    decision = bundle.plan(str(root), old, _parts(model_input='manifest v2'))
    assert decision['refetch'] == {'model-tiny-v1': 'its input changed'}
    assert 'image-vllm' in decision['keep'] and 'model-tiny-v1' not in decision['keep']


def test_a_missing_or_resized_file_fetches_its_part_again(root):
    old = _write_bundle(root)
    os.remove(str(root / 'wheels/passlib-1.7.4.tar.gz'))
    (root / 'images/docker.io_vllm_vllm-openai_v0.11.0.oci.tar').write_bytes(b'truncated')
    decision = bundle.plan(str(root), old, _parts())
    assert decision['refetch'] == {
        'image-vllm': '1 file(s) missing or changed: images/docker.io_vllm_vllm-openai_v0.11.0.oci.tar (9 bytes, recorded 11)',
        'wheels': '1 file(s) missing or changed: wheels/passlib-1.7.4.tar.gz (missing)'}


def test_new_parts_are_fetched_and_dropped_parts_removed(root):
    old = _write_bundle(root)
    parts = [p for p in _parts() if p['name'] != 'image-vllm']
    parts.append({'name': 'apt-trixie', 'kind': 'deb', 'paths': ['apt/trixie'], 'input': 'trixie'})
    decision = bundle.plan(str(root), old, parts)
    assert decision['refetch'] == {'apt-trixie': 'not in the bundle yet'}
    assert decision['remove'] == ['images/docker.io_vllm_vllm-openai_v0.11.0.oci.tar']


def _verify(root):
    return bundle.verify(str(root), (root / bundle.MANIFEST).read_text(), (root / bundle.SUMS).read_text())


def test_an_intact_bundle_verifies(root):
    _write_bundle(root)
    assert _verify(root) == []


def test_verification_names_missing_extra_and_differing_files(root):
    _write_bundle(root)
    os.remove(str(root / 'wheels/passlib-1.7.4.tar.gz'))
    shutil.rmtree(str(root / 'collections'))
    (root / 'models/tiny-v1/notes.txt').write_text('left behind')
    (root / 'models/tiny-v1/tiny.gguf').write_bytes(b'GGUF weighTs')  # same size
    (root / 'apt/bookworm/Release').write_bytes(b'Origin: x\n')
    assert _verify(root) == [
        '2 file(s) missing: collections/onprem-deepseek-0.1.0.tar.gz, wheels/passlib-1.7.4.tar.gz',
        '1 file(s) not in the manifest: models/tiny-v1/notes.txt',
        '2 file(s) differ from the manifest: apt/bookworm/Release (10 bytes, recorded 36), models/tiny-v1/tiny.gguf (SHA-256 %s, recorded %s)'
        % (_sha(b'GGUF weighTs'), _sha(b'GGUF weights')),
    ]


def test_a_model_store_s_record_in_a_model_directory_is_not_an_unlisted_file(root):
    # The appliance's store adopts the bundle's models/<version>/ where it is (roles/model_store) and writes its record
    # there; a later site run verifies the bundle again. Elsewhere the same name is an unlisted file like any other.
    _write_bundle(root)
    (root / 'models/tiny-v1' / bundle.STORE_RECORD).write_text('{"format": 2}')
    assert _verify(root) == []
    (root / 'apt' / bundle.STORE_RECORD).write_text('{}')
    (root / 'models' / bundle.STORE_RECORD).write_text('{}')
    assert _verify(root) == ['2 file(s) not in the manifest: apt/%s, models/%s' % (bundle.STORE_RECORD, bundle.STORE_RECORD)]


def test_verification_names_files_the_two_lists_disagree_on(root):
    _write_bundle(root)
    sums = (root / bundle.SUMS).read_text().splitlines()
    kept = [line for line in sums if not line.endswith('wheels/requirements.txt')]
    (root / bundle.SUMS).write_text('\n'.join(kept) + '\n')
    assert _verify(root) == ['bundle.json and SHA256SUMS disagree on 1 file(s): wheels/requirements.txt']


def test_a_long_list_is_cut_after_ten_names(root):
    _write_bundle(root)
    for number in range(12):
        (root / ('extra-%02d' % number)).write_text('x')
    assert _verify(root) == ['12 file(s) not in the manifest: ' + ', '.join('extra-%02d' % n for n in range(10)) + ' and 2 more']


@pytest.mark.parametrize('text,message', [
    ('not json', 'bundle.json is not JSON: Expecting value: line 1 column 1 (char 0)'),
    (json.dumps({'format': 2, 'artifacts': []}), 'bundle.json is not a bundle manifest of format 1'),
])
def test_a_manifest_that_is_not_one(text, message):
    with pytest.raises(bundle.BundleError) as exc:
        bundle.load_manifest(text)
    assert str(exc.value) == message


def test_a_sums_line_that_is_not_one():
    with pytest.raises(bundle.BundleError) as exc:
        bundle.parse_sums('%s  a\nabc b\n' % ('0' * 64))
    assert str(exc.value) == 'SHA256SUMS line 2 is not "<sha256>  <path>": "abc b"'


# --- What a host takes from the bundle (site.yml with deepseek_offline_bundle, roles/offline_bundle) -------------------

def _with_deployments(root):
    document = bundle.manifest(bundle.collect(str(root), _parts()), _parts(), {
        'apt_suite': 'bookworm',
        'deployments': [{'deployment': 'r1', 'engine': 'vllm', 'image': 'docker.io/vllm/vllm-openai:v0.11.0', 'model': 'tiny-v1'},
                        {'deployment': 'cpu', 'engine': 'llama_cpp', 'image': 'localhost/llama-cpp:b1', 'model': 'tiny-v2'}]})
    return document


def test_a_host_gets_the_apt_repository_of_its_release_its_image_and_its_model(root):
    assert bundle.host_sources(_with_deployments(root), 'r1', 'bookworm') == {
        'apt': 'apt/bookworm',
        'image': {'name': 'docker.io/vllm/vllm-openai:v0.11.0', 'path': 'images/docker.io_vllm_vllm-openai_v0.11.0.oci.tar'},
        'model': {'name': 'tiny-v1', 'dir': 'models/tiny-v1', 'manifest': 'models/tiny-v1.json'},
        'problems': []}


def test_a_front_door_gets_the_apt_repository_only(root):
    assert bundle.host_sources(_with_deployments(root), '', 'bookworm') == {'apt': 'apt/bookworm', 'image': None, 'model': None, 'problems': []}


def test_every_missing_part_is_named_with_what_the_bundle_has(root):
    sources = bundle.host_sources(_with_deployments(root), 'cpu', 'trixie')
    assert (sources['apt'], sources['image'], sources['model']) == ('', None, None)
    assert sources['problems'] == [
        'the bundle has no APT repository for trixie (it has: bookworm); build one with bundle_apt_suite=trixie',
        'the image localhost/llama-cpp:b1 of deployment cpu is not in the bundle (bundle_include_images was false?)',
        'the model tiny-v2 of deployment cpu is not in the bundle (bundle_include_models was false?)']
    assert bundle.host_sources(_with_deployments(root), 'other', 'bookworm')['problems'] == [
        'deployment other is not in the bundle (it was built for: cpu, r1); build it from this inventory']


def test_a_host_of_another_family_is_told_the_bundle_has_no_dnf_layout(root):
    # ansible_facts: RHEL 9 reports os_family RedHat and distribution_release "Plow" (redhat-release 9.x); no Debian suite
    # answers that, so the sentence names the family instead of suggesting bundle_apt_suite=Plow.
    sources = bundle.host_sources(_with_deployments(root), 'r1', 'Plow', family='RedHat')
    assert sources['apt'] == ''
    assert sources['problems'] == [
        "the host is RedHat-family (release Plow): a bundle holds APT repositories (Debian suites) only, no dnf/RPM"
        " layout; set offline_bundle_apt: false for it and install its packages from the site's own mirror"]
    assert bundle.host_sources(_with_deployments(root), 'r1', 'Plow', apt=False, family='RedHat')['problems'] == []


def test_parts_a_site_does_not_take_from_the_bundle_are_not_asked_for(root):
    sources = bundle.host_sources(_with_deployments(root), 'cpu', 'trixie', apt=False, images=False, models=False)
    assert sources == {'apt': '', 'image': None, 'model': None, 'problems': []}


def test_an_image_without_a_tag_is_latest(root):
    document = _with_deployments(root)
    document['about']['deployments'][0]['image'] = 'localhost/tiny'
    document['artifacts'].append({'kind': 'image', 'name': 'localhost/tiny', 'version': 'latest', 'path': 'images/localhost_tiny.oci.tar'})
    assert bundle.host_sources(document, 'r1', 'bookworm')['image'] == {'name': 'localhost/tiny', 'path': 'images/localhost_tiny.oci.tar'}
