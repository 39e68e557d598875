# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""ansible-playbook onprem.deepseek.bundle offline: a dummy model, a fake APT repository, a given collection tarball.

The steps that need podman or the network (images, wheels) are left out with their bundle_include_* switches; the
collection comes from bundle_collection_tarball, not from a build of this checkout (that would pick up the
uncommitted files of whoever works in it between the two runs).
"""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
# The checkout is the collection through .collections (tests/unit/conftest.py does the same).
if os.path.join(ROOT, '.collections') not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, '.collections'))

from ansible_collections.onprem.deepseek.plugins.module_utils import bundle  # noqa: E402 pylint: disable=wrong-import-position
OFFLINE = ['-e', 'bundle_include_images=false', '-e', 'bundle_include_wheels=false']


def _playbook(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    result = subprocess.run(['ansible-playbook'] + list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    result.output = result.stdout + result.stderr
    return result


def _site(tmp_path, source='controller'):
    """A one-deployment inventory, its model (one dummy file) and an APT repository of one fake package."""
    weights = b'GGUF dummy weights'
    (tmp_path / 'model').mkdir()
    (tmp_path / 'model' / 'tiny.gguf').write_bytes(weights)
    (tmp_path / 'mirror' / 'pool').mkdir(parents=True)
    (tmp_path / 'mirror' / 'pool' / 'hello_2.10-3_amd64.deb').write_bytes(b'deb')
    (tmp_path / 'mirror' / 'Packages').write_text('Package: hello\n')
    (tmp_path / 'mirror' / 'Release').write_text('Origin: onprem-deepseek-test-mirror\n')
    (tmp_path / 'hosts.yml').write_text(
        'all:\n  children:\n    deepseek:\n      children:\n        deepseek_inference:\n          hosts:\n            tiny-1: {}\n'
        '          vars:\n'
        '            deepseek_deployment: tiny\n            deepseek_engine: llama_cpp\n            model_store_model: tiny-v1\n'
        '            model_store_source: %s\n            model_store_controller_dir: %s\n'
        '            model_store_manifest: [{name: tiny.gguf, sha256: "%s", size: %d}]\n'
        % (source, tmp_path / 'model', hashlib.sha256(weights).hexdigest(), len(weights)))
    return str(tmp_path / 'hosts.yml')


def _collection(tmp_path):
    """A collection tarball as ansible-galaxy builds it, reduced to its MANIFEST.json."""
    manifest = json.dumps({'collection_info': {'namespace': 'onprem', 'name': 'deepseek', 'version': '0.1.0'},
                           'file_manifest_file': {'name': 'FILES.json', 'chksum_sha256': '0' * 64}}).encode()
    path = tmp_path / 'onprem-deepseek-0.1.0.tar.gz'
    with tarfile.open(str(path), 'w:gz') as archive:
        info = tarfile.TarInfo('MANIFEST.json')
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest))
    return str(path)


def test_syntax():
    result = _playbook('playbooks/bundle.yml', '--syntax-check')
    assert result.returncode == 0, result.output


def test_builds_verifies_and_a_second_run_changes_nothing(tmp_path):
    inventory = _site(tmp_path)
    out = tmp_path / 'bundle'
    args = ['onprem.deepseek.bundle', '-i', inventory, '-e', 'bundle_dir=%s' % out, '-e', 'bundle_apt_mirror_dir=%s' % (tmp_path / 'mirror'),
            '-e', 'bundle_collection_tarball=%s' % _collection(tmp_path)]
    first = _playbook(*(args + OFFLINE))
    assert first.returncode == 0, first.output
    assert ('fetch: apt-bookworm (the bundle has no bundle.json yet), model-tiny-v1 (the bundle has no bundle.json yet), '
            'collection (the bundle has no bundle.json yet)'
            in ' '.join(first.output.split())), first.output
    assert 'WARNING' not in first.output, first.output
    assert sorted(os.listdir(str(out))) == ['SHA256SUMS', 'apt', 'bundle.json', 'collections', 'models']
    document = bundle.load_manifest((out / 'bundle.json').read_text())
    assert [(a['kind'], a['name'], a['version'], a['path']) for a in document['artifacts']] == [
        ('deb', 'Packages', 'bookworm', 'apt/bookworm/Packages'),
        ('deb', 'Release', 'bookworm', 'apt/bookworm/Release'),
        ('deb', 'hello', '2.10-3', 'apt/bookworm/pool/hello_2.10-3_amd64.deb'),
        ('collection', 'onprem.deepseek', '0.1.0', 'collections/onprem-deepseek-0.1.0.tar.gz'),
        ('model', 'models/tiny-v1.json', 'tiny-v1', 'models/tiny-v1.json'),
        ('model', 'models/tiny-v1/tiny.gguf', 'tiny-v1', 'models/tiny-v1/tiny.gguf'),
    ]
    assert document['about']['deployments'] == [
        {'deployment': 'tiny', 'engine': 'llama_cpp', 'image': document['about']['deployments'][0]['image'], 'model': 'tiny-v1'}]
    assert bundle.verify(str(out), (out / 'bundle.json').read_text(), (out / 'SHA256SUMS').read_text()) == []
    # What a site runs on the other side, without Ansible: the tarball's hash, then every file's.
    for cwd, sums in ((tmp_path, 'bundle.tar.sha256'), (out, 'SHA256SUMS')):
        check = subprocess.run(['sha256sum', '--check', '--quiet', sums], cwd=str(cwd), capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
    tar_sha = (tmp_path / 'bundle.tar.sha256').read_text().split()[0]
    assert 'SHA-256 of the tarball: %s' % tar_sha in first.output
    listing = subprocess.run(['tar', '-tf', str(tmp_path / 'bundle.tar')], capture_output=True, text=True, check=True).stdout.split()
    assert 'bundle/models/tiny-v1/tiny.gguf' in listing and 'bundle/bundle.json' in listing

    second = _playbook(*(args + OFFLINE))
    assert second.returncode == 0, second.output
    assert 'changed=0' in second.stdout and 'failed=0' in second.stdout, second.output
    assert 'fetch: nothing' in second.output


def test_refuses_missing_inputs_naming_each_variable(tmp_path):
    inventory = _site(tmp_path, source='http')
    result = _playbook('onprem.deepseek.bundle', '-i', inventory, '-e', 'bundle_requirements=/nonexistent/requirements.txt',
                       '-e', 'bundle_include_images=false', '-e', 'bundle_collection_tarball=/nonexistent/collection.tar.gz')
    assert result.returncode != 0
    assert ('onprem.deepseek.bundle: bundle_dir is not set: run with -e bundle_dir=/absolute/path (the bundle directory on this controller). '
            'bundle_include_apt is true but neither bundle_apt_mirror_dir (an APT repository to copy) nor bundle_apt_package_list '
            '(a package list for scripts/mirror/build-apt-mirror.sh) is set. '
            'model tiny-v1 has no controller directory: set bundle_model_dirs={"tiny-v1": "/path/to/its/files"} '
            '(or model_store_source=controller with model_store_controller_dir). '
            'bundle_requirements=/nonexistent/requirements.txt does not exist. '
            'bundle_collection_tarball=/nonexistent/collection.tar.gz does not exist.') in ' '.join(result.output.split()), result.output
