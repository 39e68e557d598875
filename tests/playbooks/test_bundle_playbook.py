# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""ansible-playbook onprem.deepseek.bundle offline: a dummy model, a fake APT repository, a given collection tarball.

The images and wheels steps are left out with their bundle_include_* switches, but for one test that runs them with
neither a registry nor the network (an image from `podman import`, a wheel from a local --find-links directory); the
collection comes from bundle_collection_tarball, not from a build of this checkout (that would pick up the
uncommitted files of whoever works in it between the two runs).
"""

import base64
import functools
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import zipfile

import pytest
import yaml

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


def _site(tmp_path, source='controller', extra=''):
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
        '%s'
        % (source, tmp_path / 'model', hashlib.sha256(weights).hexdigest(), len(weights), extra))
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


@pytest.fixture()
def model_server(tmp_path):
    """An HTTP server on 127.0.0.1 (an ephemeral port) serving tmp_path/served; stopped after the test."""
    served = tmp_path / 'served'
    (served / 'tiny').mkdir(parents=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, 'http://127.0.0.1:%d/tiny/' % server.server_address[1]
    server.shutdown()
    server.server_close()


def _model_only_bundle(tmp_path, inventory, source):
    """The bundle of the inventory's model alone, built twice: the model file in place, its source recorded, the bundle
    intact, the second run changed=0. Returns the playbook's arguments and the bundle's directory."""
    out = tmp_path / 'bundle'
    args = ['onprem.deepseek.bundle', '-i', inventory, '-e', 'bundle_dir=%s' % out, '-e', 'bundle_include_apt=false',
            '-e', 'bundle_include_collection=false'] + OFFLINE
    first = _playbook(*args)
    assert first.returncode == 0, first.output
    assert (out / 'models' / 'tiny-v1' / 'tiny.gguf').read_bytes() == b'GGUF dummy weights'
    document = bundle.load_manifest((out / 'bundle.json').read_text())
    assert {a['path']: a['source'] for a in document['artifacts']}['models/tiny-v1/tiny.gguf'] == source
    assert bundle.verify(str(out), (out / 'bundle.json').read_text(), (out / 'SHA256SUMS').read_text()) == []
    second = _playbook(*args)
    assert second.returncode == 0 and 'changed=0' in second.stdout, second.output
    return args, out


def test_a_model_without_a_controller_directory_is_downloaded_from_its_url(tmp_path, model_server):
    served, url = model_server
    inventory = _site(tmp_path, source='http', extra='            model_store_http_url: %s\n' % url)
    shutil.copy2(str(tmp_path / 'model' / 'tiny.gguf'), str(served / 'tiny' / 'tiny.gguf'))
    args, out = _model_only_bundle(tmp_path, inventory, url.rstrip('/'))

    # The file on the mirror no longer matches the manifest: refused, naming it, and the bundle keeps no such file.
    (served / 'tiny' / 'tiny.gguf').write_bytes(b'GGUF other weights')
    shutil.rmtree(str(out))
    third = _playbook(*args)
    assert third.returncode != 0
    assert 'tiny-v1/tiny.gguf' in third.output and 'checksum' in third.output.lower(), third.output
    assert not (out / 'models' / 'tiny-v1' / 'tiny.gguf').exists()


@pytest.mark.skipif(shutil.which('rsync') is None, reason='rsync is not installed (scripts/dev setup installs it)')
def test_a_model_from_an_rsync_source_is_pulled_with_only_its_manifest_s_files(tmp_path):
    # model_store_source rsync, as model_store pulls it (model_store_remote): here a directory on this machine, which
    # rsync reads with its own protocol over a local pipe (an rsync:// daemon or host:path is the same command line).
    inventory = _site(tmp_path, source='rsync', extra='            model_store_remote: %s\n' % (tmp_path / 'remote'))
    (tmp_path / 'remote').mkdir()
    shutil.copy2(str(tmp_path / 'model' / 'tiny.gguf'), str(tmp_path / 'remote' / 'tiny.gguf'))
    (tmp_path / 'remote' / 'README.md').write_text('not in the manifest')
    args, out = _model_only_bundle(tmp_path, inventory, str(tmp_path / 'remote'))
    assert sorted(os.listdir(str(out / 'models' / 'tiny-v1'))) == ['tiny.gguf']

    # The file at the source no longer matches the manifest: the bundle is refused, naming the file.
    (tmp_path / 'remote' / 'tiny.gguf').write_bytes(b'GGUF other weights')
    shutil.rmtree(str(out))
    third = _playbook(*args)
    assert third.returncode != 0
    assert 'models/tiny-v1/tiny.gguf' in third.output, third.output


class _S3Handler(http.server.BaseHTTPRequestHandler):
    """A read-only S3 stand-in (path-style HEAD and GET of objects under a directory, bucket = first directory): the
    calls amazon.aws.s3_object makes to get an object. The request log keeps what was asked, not the signatures."""

    root = ''
    requests = []

    def _target(self):
        bucket, dummy, key = self.path.split('?', 1)[0].lstrip('/').partition('/')
        self.requests.append((self.command, bucket, key))
        path = os.path.join(self.root, bucket, key)
        if not os.path.isdir(os.path.join(self.root, bucket)):
            return None, 'NoSuchBucket'
        return (path, None) if not key or os.path.isfile(path) else (None, 'NoSuchKey')

    def _headers(self, data):
        self.send_header('ETag', '"%s"' % hashlib.md5(data).hexdigest())  # nosec: S3's ETag of a single-part object
        self.send_header('Content-Length', str(len(data)))
        self.send_header('Content-Type', 'application/octet-stream')
        self.end_headers()

    def _answer(self, body):
        path, error = self._target()
        if error:
            text = ('<?xml version="1.0"?><Error><Code>%s</Code></Error>' % error).encode()
            self.send_response(404)
            self.send_header('Content-Type', 'application/xml')
            self.send_header('Content-Length', str(len(text)))
            self.end_headers()
            if body:
                self.wfile.write(text)
            return
        data = b'' if os.path.isdir(path) else open(path, 'rb').read()  # pylint: disable=consider-using-with
        self.send_response(200)
        self._headers(data)
        if body:
            self.wfile.write(data)

    def do_HEAD(self):  # noqa: N802 (http.server's name)
        self._answer(False)

    def do_GET(self):  # noqa: N802
        self._answer(True)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture()
def s3_server(tmp_path):
    """The S3 stand-in on 127.0.0.1 (an ephemeral port) over tmp_path/s3; stopped after the test."""
    root = tmp_path / 's3'
    (root / 'models' / 'deepseek' / 'tiny-v1').mkdir(parents=True)
    handler = type('Handler', (_S3Handler,), {'root': str(root), 'requests': []})
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, 'http://127.0.0.1:%d' % server.server_address[1], handler.requests
    server.shutdown()
    server.server_close()


def test_a_model_from_s3_is_downloaded_with_the_role_s_module(tmp_path, s3_server):
    # model_store_source s3 (MinIO or any S3-compatible store): the manifest's objects under model_store_s3_prefix,
    # fetched with amazon.aws.s3_object as model_store fetches them, checked against the manifest; the secret key never
    # reaches the output. A second run changes nothing.
    root, endpoint, requests = s3_server
    keys = '            model_store_s3_access_key: lab-access\n            model_store_s3_secret_key: lab-secret-do-not-log\n'
    inventory = _site(tmp_path, source='s3', extra='            model_store_s3_endpoint: %s\n            model_store_s3_bucket: models\n'
                      '            model_store_s3_prefix: deepseek/tiny-v1\n%s' % (endpoint, keys))
    shutil.copy2(str(tmp_path / 'model' / 'tiny.gguf'), str(root / 'models' / 'deepseek' / 'tiny-v1' / 'tiny.gguf'))
    (root / 'models' / 'deepseek' / 'tiny-v1' / 'README.md').write_text('not in the manifest')
    args, out = _model_only_bundle(tmp_path, inventory, 's3://models/deepseek/tiny-v1 at %s' % endpoint)
    assert sorted(os.listdir(str(out / 'models' / 'tiny-v1'))) == ['tiny.gguf']
    assert ('GET', 'models', 'deepseek/tiny-v1/tiny.gguf') in requests
    assert not [r for r in requests if r[2].endswith('README.md')]
    verbose = _playbook(*(args + ['-v']))
    assert verbose.returncode == 0 and 'lab-secret-do-not-log' not in verbose.output, verbose.output

    # An object the manifest names is missing: the run stops naming it; the object differs from the manifest: refused.
    shutil.rmtree(str(out))
    os.rename(str(root / 'models' / 'deepseek' / 'tiny-v1' / 'tiny.gguf'), str(root / 'models' / 'deepseek' / 'other.gguf'))
    missing = _playbook(*args)
    assert missing.returncode != 0 and 'deepseek/tiny-v1/tiny.gguf does not exist' in missing.output, missing.output
    (root / 'models' / 'deepseek' / 'tiny-v1' / 'tiny.gguf').write_bytes(b'GGUF other weights')
    shutil.rmtree(str(out))
    changed = _playbook(*args)
    assert changed.returncode != 0 and 'models/tiny-v1/tiny.gguf' in changed.output, changed.output
    # No bucket: refused before anything is fetched, naming the variables.
    (tmp_path / 'hosts.yml').write_text((tmp_path / 'hosts.yml').read_text().replace('model_store_s3_bucket: models', 'model_store_s3_bucket: ""'))
    unnamed = _playbook(*args)
    assert unnamed.returncode != 0
    assert ('model tiny-v1 comes from model_store_source s3: set model_store_s3_endpoint and model_store_s3_bucket'
            in ' '.join(unnamed.output.split())), unnamed.output


def test_refuses_missing_inputs_naming_each_variable(tmp_path):
    inventory = _site(tmp_path, source='http')
    result = _playbook('onprem.deepseek.bundle', '-i', inventory, '-e', 'bundle_requirements=/nonexistent/requirements.txt',
                       '-e', 'bundle_include_images=false', '-e', 'bundle_collection_tarball=/nonexistent/collection.tar.gz',
                       '-e', 'bundle_apt_packages_extra=nvidia-smi', '-e', 'bundle_apt_builder=/nonexistent/build-apt-mirror.sh')
    assert result.returncode != 0
    assert ('onprem.deepseek.bundle: bundle_dir is not set: run with -e bundle_dir=/absolute/path (the bundle directory on this controller). '
            'bundle_apt_packages_extra must be a list of package names (it is nvidia-smi). '
            'model tiny-v1 has no controller directory and no download URL (model_store_source http): '
            'set bundle_model_dirs={"tiny-v1": "/path/to/its/files"}, or model_store_source controller with '
            'model_store_controller_dir, http with model_store_http_url, rsync with model_store_remote, s3 with '
            'model_store_s3_endpoint and model_store_s3_bucket, or hf_mirror or modelscope_mirror with '
            'model_store_mirror_endpoint and model_store_mirror_repo. '
            'bundle_apt_builder=/nonexistent/build-apt-mirror.sh does not exist. '
            'bundle_requirements=/nonexistent/requirements.txt does not exist. '
            'bundle_collection_tarball=/nonexistent/collection.tar.gz does not exist.') in ' '.join(result.output.split()), result.output


def _wheel(directory, name, version):
    """A pure-Python wheel made by hand (PEP 427: a zip with the package, METADATA, WHEEL and RECORD)."""
    dist = '%s-%s.dist-info' % (name, version)
    files = {'%s/__init__.py' % name: b'VERSION = %r\n' % version,
             '%s/METADATA' % dist: ('Metadata-Version: 2.1\nName: %s\nVersion: %s\n' % (name, version)).encode(),
             '%s/WHEEL' % dist: b'Wheel-Version: 1.0\nGenerator: onprem-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n'}
    record = ''.join('%s,sha256=%s,%d\n' % (path, base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode(), len(data))
                     for path, data in files.items()) + '%s/RECORD,,\n' % dist
    files['%s/RECORD' % dist] = record.encode()
    os.makedirs(str(directory), exist_ok=True)
    path = os.path.join(str(directory), '%s-%s-py3-none-any.whl' % (name, version))
    with zipfile.ZipFile(path, 'w') as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


def _podman_image(tmp_path, ref, content):
    """A one-file image made with `podman import` (no registry, no base image)."""
    root = tmp_path / ('rootfs-%s' % hashlib.sha256(content).hexdigest()[:8])
    root.mkdir()
    (root / 'hello.txt').write_bytes(content)
    archive = str(root) + '.tar'
    with tarfile.open(archive, 'w') as tar:
        tar.add(str(root / 'hello.txt'), arcname='hello.txt')
    subprocess.run(['podman', 'import', '--quiet', archive, ref], check=True, capture_output=True, timeout=120)


def test_images_and_wheels_parts_and_a_changed_image_alone_is_fetched_again(tmp_path):
    # The two steps that need podman and the network elsewhere, here without either: an image made with podman import,
    # a wheel from a local --find-links directory (bundle_pip_args). Then the image changes: only its part is fetched.
    if shutil.which('podman') is None:
        pytest.skip('podman is not installed here (scripts/dev setup installs it)')
    ref = 'localhost/onprem-deepseek-test/bundle-image-%s:1' % os.getpid()
    _podman_image(tmp_path, ref, b'first')
    try:
        inventory = _site(tmp_path)
        with open(inventory, 'a') as handle:
            handle.write('            inference_image: %s\n' % ref)
        _wheel(tmp_path / 'index', 'onprem_tiny', '1.0')
        (tmp_path / 'requirements.txt').write_text('onprem_tiny==1.0\n')
        out = tmp_path / 'bundle'
        args = ['onprem.deepseek.bundle', '-i', inventory, '-e', 'bundle_dir=%s' % out,
                '-e', 'bundle_apt_mirror_dir=%s' % (tmp_path / 'mirror'), '-e', 'bundle_collection_tarball=%s' % _collection(tmp_path),
                '-e', 'bundle_image_pull=false', '-e', 'bundle_requirements=%s' % (tmp_path / 'requirements.txt'),
                '-e', json.dumps({'bundle_pip_args': ['--no-index', '--find-links', str(tmp_path / 'index')]})]
        first = _playbook(*args)
        assert first.returncode == 0, first.output
        image = 'images/%s.oci.tar' % ref.replace('/', '_').replace(':', '_')
        assert (out / image).is_file()
        with tarfile.open(str(out / image)) as archive:              # an OCI layout: index.json and oci-layout
            assert {'index.json', 'oci-layout'} <= set(archive.getnames())
        assert (out / 'wheels' / 'onprem_tiny-1.0-py3-none-any.whl').is_file()
        assert (out / 'wheels' / 'requirements.txt').read_text() == 'onprem_tiny==1.0\n'
        document = bundle.load_manifest((out / 'bundle.json').read_text())
        kinds = dict((a['path'], (a['kind'], a['name'], a['version'])) for a in document['artifacts'])
        assert kinds[image] == ('image', ref.rsplit(':', 1)[0], '1')
        assert kinds['wheels/onprem_tiny-1.0-py3-none-any.whl'][0] == 'wheel'
        assert bundle.verify(str(out), (out / 'bundle.json').read_text(), (out / 'SHA256SUMS').read_text()) == []

        _podman_image(tmp_path, ref, b'second')                     # the same name, another image ID
        second = _playbook(*args)
        assert second.returncode == 0, second.output
        fetched = [line for line in second.output.splitlines() if 'fetch:' in line]
        assert fetched and 'image-' in ' '.join(fetched) and 'wheels' not in ' '.join(fetched) and 'model-' not in ' '.join(fetched), \
            second.output
    finally:
        subprocess.run(['podman', 'rmi', '--force', ref], capture_output=True, check=False, timeout=120)


def test_a_built_repository_is_taken_from_where_the_builder_says(tmp_path):
    # The builder (scripts/mirror/build-apt-mirror.sh) names the repository it built or reused on its last line; the
    # bundle takes it from there and asks for its own link (bundle-<suite>), so that it never switches the link a
    # Molecule scenario's mirror is mounted from (.cache/mirror/<suite>). A stand-in builder records its arguments.
    inventory = _site(tmp_path)
    builder = tmp_path / 'builder.sh'
    builder.write_text('#!/bin/sh\necho "$@" > %s/builder.args\necho "mirror: building %s from $1"\necho "mirror: %s (1 packages, 4.0K)"\n'
                       % (tmp_path, tmp_path / 'mirror', tmp_path / 'mirror'))
    (tmp_path / 'list.txt').write_text('hello\n')
    out = tmp_path / 'bundle'
    result = _playbook('onprem.deepseek.bundle', '-i', inventory, '-e', 'bundle_dir=%s' % out, '-e', 'bundle_tarball=',
                       '-e', 'bundle_apt_suite=trixie', '-e', 'bundle_apt_package_list=%s' % (tmp_path / 'list.txt'),
                       '-e', 'bundle_apt_builder=%s' % builder, '-e', 'bundle_collection_tarball=%s' % _collection(tmp_path), *OFFLINE)
    assert result.returncode == 0, result.output
    assert (tmp_path / 'builder.args').read_text().split() == ['trixie', str(tmp_path / 'list.txt'), 'bundle-trixie']
    assert (out / 'apt' / 'trixie' / 'pool' / 'hello_2.10-3_amd64.deb').read_bytes() == b'deb'
    parts = bundle.load_manifest((out / 'bundle.json').read_text())['parts']
    assert parts['apt-trixie']['source'] == ('scripts/mirror/build-apt-mirror.sh trixie %s from http://deb.debian.org/debian '
                                             'http://deb.debian.org/debian-security' % (tmp_path / 'list.txt'))


def test_without_a_package_list_the_inventory_s_packages_are_derived_and_built(tmp_path):
    # Neither bundle_apt_package_list nor bundle_apt_mirror_dir: the list is what site.yml installs on the inventory's
    # hosts (filter onprem.deepseek.bundle_apt_packages over the roles' vars files), written beside the bundle and
    # given to the builder; bundle_apt_packages_extra adds to it.
    inventory = _site(tmp_path, extra='            container_runtime_oci_runtime: runc\n')
    builder = tmp_path / 'builder.sh'
    builder.write_text('#!/bin/sh\necho "$@" > %s/builder.args\necho "mirror: %s (cached)"\n' % (tmp_path, tmp_path / 'mirror'))
    out = tmp_path / 'bundle'
    args = ['onprem.deepseek.bundle', '-i', inventory, '-e', 'bundle_dir=%s' % out, '-e', 'bundle_tarball=',
            '-e', 'bundle_apt_suite=trixie', '-e', 'bundle_apt_builder=%s' % builder,
            '-e', '{"bundle_apt_packages_extra": ["nvidia-smi"]}', '-e', 'bundle_collection_tarball=%s' % _collection(tmp_path)] + OFFLINE
    result = _playbook(*args)
    assert result.returncode == 0, result.output
    listed = tmp_path / 'bundle.work' / 'apt-packages-trixie.txt'
    assert (tmp_path / 'builder.args').read_text().split() == ['trixie', str(listed), 'bundle-trixie']
    text = listed.read_text()
    packages = [line for line in text.splitlines() if line and not line.startswith('#')]
    assert packages == sorted(packages)
    for name in ('podman', 'runc', 'nginx', 'libnginx-mod-http-js', 'prometheus-node-exporter', 'mtail', 'nvidia-smi'):
        assert name in packages, text
    for name in ('haproxy', 'restic', 'rsync', 'prometheus', 'rdma-core'):
        assert name not in packages, text
    assert '# tiny-1: container_runtime (podman from distribution): ' in text
    assert 'not derived: NVIDIA packages' in ' '.join(result.output.split())
    parts = bundle.load_manifest((out / 'bundle.json').read_text())['parts']
    assert parts['apt-trixie']['source'].startswith('scripts/mirror/build-apt-mirror.sh trixie (the packages of the inventory: ')
    # The same inventory again: nothing changes (the list is rewritten with the same content).
    again = _playbook(*args)
    assert again.returncode == 0 and 'changed=0' in again.stdout, again.output


def _role_vars(role, name):
    with open(os.path.join(ROOT, 'roles', role, 'vars', name), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def test_gpu_hosts_get_the_nvidia_packages_their_roles_choose(tmp_path):
    # A serving host with deepseek_gpu gets what nvidia_driver, cuda and container_toolkit install there: the roles' own
    # expressions evaluated with the host's values and the hardware its GPU names (tests/unit/.../test_bundle_packages.py).
    # Debian 13 (trixie) from Debian's archive: the open kernel modules (Hopper), CUDA and NCCL from non-free/contrib;
    # the container toolkit only from NVIDIA's repository, which must then be given (a stand-in source here).
    driver, cuda, toolkit = _role_vars('nvidia_driver', 'Debian.yml'), _role_vars('cuda', 'Debian.yml'), _role_vars('container_toolkit', 'main.yml')
    inventory = _site(tmp_path, extra='            deepseek_gpu: H100-80G\n')
    inventory_text = (tmp_path / 'hosts.yml').read_text()
    builder = tmp_path / 'builder.sh'
    builder.write_text('#!/bin/sh\necho "mirror: %s (cached)"\n' % (tmp_path / 'mirror'))
    base = ['onprem.deepseek.bundle', '-i', inventory, '-e', 'bundle_dir=%s' % (tmp_path / 'bundle'), '-e', 'bundle_tarball=',
            '-e', 'bundle_apt_suite=trixie', '-e', 'bundle_apt_builder=%s' % builder, '-e', 'bundle_include_images=false',
            '-e', 'bundle_include_models=false', '-e', 'bundle_collection_tarball=%s' % _collection(tmp_path)] + OFFLINE
    refused = _playbook(*base)
    assert refused.returncode != 0
    assert ("tiny-1: container_toolkit_source=nvidia: these NVIDIA packages are not in Debian's archive: give bundle_apt_sources"
            in ' '.join(refused.output.split())), refused.output
    (tmp_path / 'nvidia.asc').write_text('-----BEGIN PGP PUBLIC KEY BLOCK-----\nstand-in\n')
    sources = [{'name': 'nvidia-container-toolkit', 'uris': 'https://mirror.example.internal/libnvidia-container/', 'key': str(tmp_path / 'nvidia.asc')}]
    result = _playbook(*(base + ['-e', json.dumps({'bundle_apt_sources': sources})]))
    assert result.returncode == 0, result.output
    text = (tmp_path / 'bundle.work' / 'apt-packages-trixie.txt').read_text()
    packages = [line for line in text.splitlines() if line and not line.startswith('#')]
    table = driver['__nvidia_driver_packages']['distribution']
    expected = (table['userspace']['open'] + table['kernel']['open'] + driver['__nvidia_driver_branch_packages']
                + driver['__nvidia_driver_dkms_prerequisites'] + ['linux-image-amd64', 'linux-headers-amd64']
                + cuda['__cuda_packages']['distribution']['toolkit'] + ['libnccl2', 'libnccl-dev'] + toolkit['__container_toolkit_lockstep'])
    assert set(expected) <= set(packages), (expected, text)
    assert not set(table['kernel']['proprietary']) & set(packages), text
    assert '# tiny-1: ' in text and 'nvidia_driver (distribution, branch 550, open kernel modules): ' in text, text
    # NVIDIA's repository and an older branch for the same host: its fabric manager names (branch in the name before
    # 580), chosen because an H100 SXM board carries NVSwitches.
    (tmp_path / 'hosts.yml').write_text((tmp_path / 'hosts.yml').read_text()
                                        + '            nvidia_driver_source: nvidia\n            nvidia_driver_branch: "570"\n'
                                        + '            cuda_version: "12.8"\n')
    nvidia = _playbook(*(base + ['-e', json.dumps({'bundle_apt_sources': sources})]))
    assert nvidia.returncode == 0, nvidia.output
    text = (tmp_path / 'bundle.work' / 'apt-packages-trixie.txt').read_text()
    for name in ('nvidia-kernel-open-dkms', 'nvidia-fabricmanager-570', 'libnvidia-nscq-570', 'cuda-toolkit-12-8', 'cudnn9-cuda-12'):
        assert name in text.splitlines(), text
    assert 'nvidia_driver (fabric manager auto: H100-80G is sold on NVSwitch boards): ' in text
    # A site mirror of Debian's own packages (mirror_of distribution) and no container toolkit from NVIDIA: everything
    # is in the Debian mirror the builder reads, so no vendor source is asked for.
    (tmp_path / 'hosts.yml').write_text(inventory_text + '            nvidia_driver_source: mirror\n'
                                        '            nvidia_driver_mirror_of: distribution\n            container_toolkit_source: distribution\n')
    debian = _playbook(*base)
    assert debian.returncode == 0, debian.output
    assert 'nvidia_driver (mirror, branch 550, open kernel modules): ' in (tmp_path / 'bundle.work' / 'apt-packages-trixie.txt').read_text()


def test_vendor_repositories_and_the_site_s_debian_mirror_are_given_to_the_builder(tmp_path):
    # bundle_apt_sources (NVIDIA's CUDA repository or the site's mirror of it) become deb822 files and keys in one
    # directory the builder reads beside the Debian mirror it is given (ONPREM_* environment, documented in
    # scripts/mirror/build-apt-mirror.sh); a source taken off the list leaves nothing behind. A stand-in builder records
    # its environment and the directory's files.
    inventory = _site(tmp_path)
    (tmp_path / 'list.txt').write_text('nvidia-fabricmanager\n')
    (tmp_path / 'cuda.asc').write_text('-----BEGIN PGP PUBLIC KEY BLOCK-----\nstand-in\n')
    (tmp_path / 'ofed.gpg').write_bytes(b'binary key')
    builder = tmp_path / 'builder.sh'
    builder.write_text('#!/bin/sh\nenv | grep -E "^ONPREM_(APT_EXTRA_SOURCES|DEBIAN_MIRROR|DEBIAN_SECURITY_MIRROR)=" | sort > %s/builder.env\n'
                       '[ -z "$ONPREM_APT_EXTRA_SOURCES" ] || (cd "$ONPREM_APT_EXTRA_SOURCES" && ls; cat *.sources) > %s/builder.sources\n'
                       'echo "mirror: %s (cached)"\n' % (tmp_path, tmp_path, tmp_path / 'mirror'))
    sources = [{'name': 'nvidia-cuda', 'uris': 'https://mirror.example.internal/cuda/repos/debian12/x86_64/', 'key': str(tmp_path / 'cuda.asc')},
               {'name': 'ofed', 'uris': ['https://mirror.example.internal/ofed/'], 'suites': ['bookworm'], 'components': ['main'],
                'key': str(tmp_path / 'ofed.gpg')}]
    out = tmp_path / 'bundle'
    base = ['onprem.deepseek.bundle', '-i', inventory, '-e', 'bundle_dir=%s' % out, '-e', 'bundle_tarball=',
            '-e', 'bundle_apt_package_list=%s' % (tmp_path / 'list.txt'), '-e', 'bundle_apt_builder=%s' % builder,
            '-e', 'bundle_apt_debian_mirror=https://mirror.example.internal/debian', '-e', 'bundle_apt_security_mirror=',
            '-e', 'bundle_collection_tarball=%s' % _collection(tmp_path)] + OFFLINE
    result = _playbook(*(base + ['-e', json.dumps({'bundle_apt_sources': sources})]))
    assert result.returncode == 0, result.output
    work = tmp_path / 'bundle.work' / 'apt-sources'
    assert (tmp_path / 'builder.env').read_text().splitlines() == [
        'ONPREM_APT_EXTRA_SOURCES=%s' % work, 'ONPREM_DEBIAN_MIRROR=https://mirror.example.internal/debian', 'ONPREM_DEBIAN_SECURITY_MIRROR=']
    assert (tmp_path / 'builder.sources').read_text() == (
        'nvidia-cuda.asc\nnvidia-cuda.sources\nofed.gpg\nofed.sources\n'
        'Types: deb\nURIs: https://mirror.example.internal/cuda/repos/debian12/x86_64/\nSuites: ./\nSigned-By: /extra/nvidia-cuda.asc\n'
        'Types: deb\nURIs: https://mirror.example.internal/ofed/\nSuites: bookworm\nComponents: main\nSigned-By: /extra/ofed.gpg\n')
    assert (work / 'ofed.gpg').read_bytes() == b'binary key'
    parts = bundle.load_manifest((out / 'bundle.json').read_text())['parts']
    assert parts['apt-bookworm']['source'] == (
        'scripts/mirror/build-apt-mirror.sh bookworm %s from https://mirror.example.internal/debian and nvidia-cuda '
        'https://mirror.example.internal/cuda/repos/debian12/x86_64/ and ofed https://mirror.example.internal/ofed/' % (tmp_path / 'list.txt'))
    again = _playbook(*(base + ['-e', json.dumps({'bundle_apt_sources': sources})]))
    assert again.returncode == 0 and 'changed=0' in again.stdout, again.output
    # Without the OFED source its two files go; with no source at all the builder gets no directory.
    fewer = _playbook(*(base + ['-e', json.dumps({'bundle_apt_sources': sources[:1]})]))
    assert fewer.returncode == 0, fewer.output
    assert sorted(os.listdir(str(work))) == ['nvidia-cuda.asc', 'nvidia-cuda.sources']
    none = _playbook(*(base + ['-e', json.dumps({'bundle_apt_sources': []})]))
    assert none.returncode == 0, none.output
    assert 'ONPREM_APT_EXTRA_SOURCES=\n' in (tmp_path / 'builder.env').read_text() and os.listdir(str(work)) == []


def test_bad_vendor_repositories_are_refused_naming_each(tmp_path):
    inventory = _site(tmp_path)
    sources = [{'name': 'Debian'}, {'name': 'cuda', 'uris': 'ftp://mirror/cuda', 'key': 'cuda.asc'},
               {'name': 'ofed', 'uris': 'https://mirror/ofed', 'suites': 'bookworm', 'key': '/nonexistent/ofed.asc'},
               {'name': 'flat', 'uris': 'file:/srv/flat', 'components': 'main', 'key': '/nonexistent/flat.gpg', 'arch': 'amd64'}]
    result = _playbook('onprem.deepseek.bundle', '-i', inventory, '-e', 'bundle_dir=%s' % (tmp_path / 'bundle'),
                       '-e', json.dumps({'bundle_apt_sources': sources}), '-e', 'bundle_collection_tarball=%s' % _collection(tmp_path), *OFFLINE)
    assert result.returncode != 0
    text = ' '.join(result.output.split())
    for sentence in ("bundle_apt_sources[0].name='Debian': want lower-case letters, digits, '.', '_' or '-', not 'debian' (the builder's own).",
                     "bundle_apt_sources['cuda'].uris='ftp://mirror/cuda': want one or more http://, https:// or file:/ URIs.",
                     "bundle_apt_sources['cuda'].key='cuda.asc': want the absolute path of the repository's signing key on the controller (.asc or .gpg).",
                     "bundle_apt_sources['ofed']: suites bookworm need components (e.g. main).",
                     "bundle_apt_sources['flat'] has unknown keys arch; allowed: name, uris, suites, components, key.",
                     "bundle_apt_sources['flat']: a flat repository (suites ./) has no components (components=main)."):
        assert sentence in text, result.output
    assert not (tmp_path / 'bundle').exists()
