# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""roles/offline_bundle and playbooks/tasks/offline_bundle.yml (site.yml's deepseek_offline_bundle) on a host with no network at all.

A bundle is built with the bundle playbook from a signed APT repository made here (one package, signed with a
throwaway gpg key, indexed the way apt-ftparchive does), a dummy model and a given collection tarball; the host is a
container of the lab's Debian 13 image started with `--network none` (no interface but loopback: nothing outside can
be reached, and the CI machine's own network is not touched). The role verifies the bundle on the controller, makes
its repository the host's APT source, and points model_store at the bundle; the package is then installed from the
bundle alone, a package the bundle lacks fails at once with APT's message, and a second run changes nothing. A
tampered bundle and a wrong pin are refused before the host changes.

The engine image is a one-file image built here and saved by the bundle playbook: the host gets its archive and the
container_runtime_images entry (the container has no podman: loading it is container_runtime's, proven in the labs).
The same host with the bundle mounted read-only instead (offline_bundle_on_hosts): verified there, read in place, and
model_store's local source copies the model from the mount into the store.
Not here: the whole site.yml from a bundle (the inference lab's next step, docs/offline.md).
"""

import email.utils
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import uuid

import pytest

from test_bundle_playbook import ROOT, _collection, _playbook, _site

IMAGE = 'localhost/onprem-deepseek/debian:trixie'
PACKAGE = 'onprem-offline-probe'
SOURCE = '/etc/apt/sources.list.d/onprem-deepseek-bundle.sources'
ENGINE = 'localhost/onprem-deepseek/offline-probe:1'
ARCHIVE = '/var/lib/onprem-deepseek/bundle/images/localhost_onprem-deepseek_offline-probe_1.oci.tar'


def _podman(*args, check=True, timeout=120, input=None):  # pylint: disable=redefined-builtin
    return subprocess.run(['podman'] + list(args), capture_output=True, text=True, check=check, timeout=timeout, input=input)


pytestmark = pytest.mark.skipif(shutil.which('podman') is None or shutil.which('gpg') is None or shutil.which('dpkg-deb') is None
                                or _podman('image', 'exists', IMAGE, check=False).returncode != 0,
                                reason='needs podman, gpg, dpkg-deb and the lab image %s (scripts/dev images)' % IMAGE)


def _repository(tmp_path):
    """A flat APT repository of one package, signed (InRelease, Release.gpg) by a throwaway key exported as key.asc
    (scripts/mirror/sign-repo.sh, the lab's one signing step)."""
    build = tmp_path / 'deb'
    (build / 'DEBIAN').mkdir(parents=True)
    (build / 'usr' / 'share' / PACKAGE).mkdir(parents=True)
    (build / 'usr' / 'share' / PACKAGE / 'README').write_text('installed from the offline bundle\n')
    control = ('Package: %s\nVersion: 1.0\nArchitecture: all\nMaintainer: onprem.deepseek tests <tests@onprem.invalid>\n'
               'Description: a package only the offline bundle has\n' % PACKAGE)
    (build / 'DEBIAN' / 'control').write_text(control)
    repo = tmp_path / 'signed-repo'
    (repo / 'pool').mkdir(parents=True)
    deb = repo / 'pool' / ('%s_1.0_all.deb' % PACKAGE)
    subprocess.run(['dpkg-deb', '--root-owner-group', '--build', str(build), str(deb)], capture_output=True, check=True)
    data = deb.read_bytes()
    packages = control + 'Filename: pool/%s\nSize: %d\nSHA256: %s\n\n' % (deb.name, len(data), hashlib.sha256(data).hexdigest())
    (repo / 'Packages').write_text(packages)
    (repo / 'Packages.gz').write_bytes(gzip.compress(packages.encode(), mtime=0))
    lines = ''.join(' %s %d %s\n' % (hashlib.sha256((repo / name).read_bytes()).hexdigest(), (repo / name).stat().st_size, name)
                    for name in ('Packages', 'Packages.gz'))
    (repo / 'Release').write_text('Origin: onprem-deepseek-test-bundle\nLabel: onprem-deepseek-test-bundle\nDate: %s\nSHA256:\n%s'
                                  % (email.utils.formatdate(usegmt=True), lines))
    subprocess.run([os.path.join(ROOT, 'scripts', 'mirror', 'sign-repo.sh'), str(repo), 'onprem-deepseek offline test (throwaway) <bundle@onprem.invalid>'],
                   capture_output=True, check=True)
    return repo


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    """The bundle (apt/trixie, the model, the collection) and the inventory it was built from."""
    tmp_path = tmp_path_factory.mktemp('offline')
    inventory = _site(tmp_path)
    repo = _repository(tmp_path)
    out = tmp_path / 'bundle'
    # The deployment's engine image: a one-file image built here (FROM scratch), saved into the bundle by podman.
    (tmp_path / 'image').mkdir()
    (tmp_path / 'image' / 'engine').write_text('a stand-in engine\n')
    _podman('build', '-q', '-t', ENGINE, '-f', '-', str(tmp_path / 'image'), input='FROM scratch\nCOPY engine /engine\n')
    result = _playbook('onprem.deepseek.bundle', '-i', inventory, '-e', 'bundle_dir=%s' % out, '-e', 'bundle_apt_mirror_dir=%s' % repo,
                       '-e', 'bundle_apt_suite=trixie', '-e', 'bundle_collection_tarball=%s' % _collection(tmp_path),
                       '-e', 'inference_image=%s' % ENGINE, '-e', 'bundle_image_pull=false', '-e', 'bundle_include_wheels=false')
    assert result.returncode == 0, result.output
    # The pin a site carries on a second channel, printed by the bundle playbook.
    sums = hashlib.sha256((out / 'SHA256SUMS').read_bytes()).hexdigest()
    assert 'SHA-256 of SHA256SUMS (pin it in site.yml with offline_bundle_sums_sha256): %s' % sums in result.output, result.output
    return tmp_path, out


def _host(built, *volumes):
    """A Debian 13 container with no network; removed after the test (and it stops by itself after 10 minutes)."""
    tmp_path, _out = built
    name = 'onprem-offline-%s' % uuid.uuid4().hex[:8]
    _podman('run', '-d', '--rm', '--network', 'none', '--name', name, *volumes, IMAGE, 'sleep', '600')
    inventory = tmp_path / ('%s.yml' % name)
    manifest = json.loads((tmp_path / 'bundle' / 'models' / 'tiny-v1.json').read_text())
    inventory.write_text(json.dumps({'all': {'children': {'deepseek': {'children': {'deepseek_inference': {
        'hosts': {'tiny-1': {'ansible_connection': 'containers.podman.podman', 'ansible_host': name,
                             'ansible_python_interpreter': '/usr/bin/python3'}},
        'vars': {'deepseek_deployment': 'tiny', 'deepseek_engine': 'llama_cpp', 'model_store_model': 'tiny-v1',
                 'model_store_source': 'http', 'model_store_manifest': manifest}}}}}}}))
    return name, str(inventory)


@pytest.fixture
def host(built):
    name, inventory = _host(built)
    yield name, inventory
    _podman('rm', '-f', '-t', '0', name, check=False)


@pytest.fixture
def mounted(built, tmp_path):
    """The same, with a copy of the bundle mounted read-only at /mnt/bundle (a USB disk, an NFS export)."""
    _tmp, out = built
    copy = tmp_path / 'mounted-bundle'
    shutil.copytree(str(out), str(copy))
    name, inventory = _host(built, '-v', '%s:/mnt/bundle:ro' % copy)
    yield name, inventory, copy
    _podman('rm', '-f', '-t', '0', name, check=False)


def _run(tmp_path, inventory, bundle_dir, *extra, model_store=False):
    playbook = tmp_path / 'offline.yml'
    playbook.write_text(
        '- hosts: deepseek_inference\n  gather_facts: false\n  tasks:\n'
        '    - name: What site.yml runs with deepseek_offline_bundle\n      ansible.builtin.include_tasks: %s/playbooks/tasks/offline_bundle.yml\n'
        '    - name: Install a package only the bundle has\n      ansible.builtin.apt: {name: %s, state: present}\n'
        '    - name: Record what the roles after it see\n      ansible.builtin.copy:\n'
        '        content: "{{ {\'images\': container_runtime_images | default([]), \'source\': model_store_source,'
        ' \'dir\': model_store_local_dir if model_store_source == \'local\' else model_store_controller_dir | default(none),'
        ' \'manifest\': model_store_manifest} | to_json }}"\n'
        '        dest: %s/facts.json\n        mode: "0644"\n      delegate_to: localhost\n' % (ROOT, PACKAGE, tmp_path)
        + ('    - name: The model store from those sources\n      ansible.builtin.include_role: {name: onprem.deepseek.model_store}\n'
           if model_store else ''))
    return _playbook(str(playbook), '-i', inventory, '-e', 'deepseek_offline_bundle=%s' % bundle_dir, '-e', 'inference_image=%s' % ENGINE, *extra)


def test_a_host_without_network_installs_from_the_bundle_and_a_second_run_changes_nothing(built, host):
    tmp_path, out = built
    name, inventory = host
    first = _run(tmp_path, inventory, out)
    assert first.returncode == 0, first.output
    said = ' '.join(first.output.split())
    assert 'tiny-1 installs from the bundle %s (verified): APT apt/trixie, image %s, model tiny-v1' % (out, ENGINE) in said, said
    installed = _podman('exec', name, 'dpkg-query', '-W', '-f', '${Status} ${Version}', PACKAGE)
    assert installed.stdout == 'install ok installed 1.0'
    source = _podman('exec', name, 'cat', SOURCE).stdout
    assert 'URIs: file:/var/lib/onprem-deepseek/bundle/apt/trixie\nSuites: ./\n' in source
    assert 'Signed-By: /var/lib/onprem-deepseek/bundle/apt/trixie/key.asc' in source
    facts = json.loads((tmp_path / 'facts.json').read_text())
    assert _podman('exec', name, 'test', '-s', ARCHIVE, check=False).returncode == 0
    assert facts == {'images': [{'name': ENGINE, 'archive': ARCHIVE}], 'source': 'controller', 'dir': '%s/models/tiny-v1' % out,
                     'manifest': json.loads((out / 'models' / 'tiny-v1.json').read_text())}

    # What the bundle lacks cannot come from anywhere: APT says so at once (its other sources are unreachable).
    missing = _podman('exec', name, 'apt-get', 'install', '-y', 'nginx', check=False, timeout=60)
    assert missing.returncode == 100 and 'Unable to locate package nginx' in missing.stderr, missing.stdout + missing.stderr

    second = _run(tmp_path, inventory, out)
    assert second.returncode == 0 and 'changed=0' in second.stdout, second.output


def test_a_tampered_bundle_or_a_wrong_pin_is_refused_before_the_host_changes(built, host, tmp_path):
    _tmp, out = built
    name, inventory = host
    tampered = tmp_path / 'bundle'
    shutil.copytree(str(out), str(tampered))
    with open(str(tampered / 'models' / 'tiny-v1' / 'tiny.gguf'), 'ab') as handle:
        handle.write(b'!')
    result = _run(tmp_path, inventory, tampered)
    assert result.returncode != 0
    said = ' '.join(result.output.split())
    assert 'does not match its manifest: 1 file(s) differ from the manifest: models/tiny-v1/tiny.gguf (19 bytes, recorded 18)' in said, said

    sums = hashlib.sha256((out / 'SHA256SUMS').read_bytes()).hexdigest()
    result = _run(tmp_path, inventory, out, '-e', 'offline_bundle_sums_sha256=%s' % ('0' * 64))
    assert result.returncode != 0
    said = ' '.join(result.output.split())
    assert ('%s/SHA256SUMS has the SHA-256 %s, not the pinned offline_bundle_sums_sha256 %s' % (out, sums, '0' * 64)) in said, said

    result = _run(tmp_path, inventory, 'bundle', '-e', 'offline_bundle_sums_sha256=abc')
    assert result.returncode != 0
    said = ' '.join(result.output.split())
    assert ('offline_bundle: 2 problem(s) on tiny-1: - offline_bundle_dir (deepseek_offline_bundle) is "bundle"; allowed: the absolute path '
            'of an unpacked bundle on the controller - offline_bundle_sums_sha256 is "abc"; allowed: 64 lowercase hex digits') in said, said
    assert _podman('exec', name, 'test', '-e', SOURCE, check=False).returncode == 1
    assert _podman('exec', name, 'test', '-e', '/var/lib/onprem-deepseek', check=False).returncode == 1


def test_a_bundle_mounted_on_the_host_is_verified_there_and_read_in_place(built, mounted):
    tmp_path, out = built
    name, inventory, copy = mounted
    first = _run(tmp_path, inventory, '/mnt/bundle', '-e', 'offline_bundle_on_hosts=true', model_store=True)
    assert first.returncode == 0, first.output
    said = ' '.join(first.output.split())
    assert 'tiny-1 installs from the bundle /mnt/bundle mounted on it (verified): APT apt/trixie, image %s, model tiny-v1' % ENGINE in said, said
    assert _podman('exec', name, 'dpkg-query', '-W', '-f', '${Status}', PACKAGE).stdout == 'install ok installed'
    source = _podman('exec', name, 'cat', SOURCE).stdout
    assert 'URIs: file:/mnt/bundle/apt/trixie\nSuites: ./\n' in source and 'Signed-By: /mnt/bundle/apt/trixie/key.asc' in source
    # nothing copied to the host: the archive, the repository and the model are read where the bundle is mounted
    assert _podman('exec', name, 'test', '-e', '/var/lib/onprem-deepseek/bundle', check=False).returncode == 1
    facts = json.loads((tmp_path / 'facts.json').read_text())
    assert facts == {'images': [{'name': ENGINE, 'archive': '/mnt/bundle/images/localhost_onprem-deepseek_offline-probe_1.oci.tar'}],
                     'source': 'local', 'dir': '/mnt/bundle/models/tiny-v1',
                     'manifest': json.loads((out / 'models' / 'tiny-v1.json').read_text())}
    # model_store_source local: the model copied from the mount into the store and checked against the manifest
    stored = _podman('exec', name, 'sha256sum', '/srv/deepseek/models/tiny-v1/tiny.gguf').stdout.split()[0]
    assert stored == facts['manifest'][0]['sha256']
    second = _run(tmp_path, inventory, '/mnt/bundle', '-e', 'offline_bundle_on_hosts=true', model_store=True)
    assert second.returncode == 0 and 'changed=0' in second.stdout, second.output
    # a host that takes no model from it (ansible-core 2.19 refuses a conditional that is not a boolean)
    without = _run(tmp_path, inventory, '/mnt/bundle', '-e', 'offline_bundle_on_hosts=true', '-e', 'offline_bundle_models=false')
    assert without.returncode == 0 and 'model: not from the bundle' in without.output, without.output

    # the host verifies its own view of the bundle: a file changed on the mount is refused there
    with open(str(copy / 'models' / 'tiny-v1' / 'tiny.gguf'), 'ab') as handle:
        handle.write(b'!')
    third = _run(tmp_path, inventory, '/mnt/bundle', '-e', 'offline_bundle_on_hosts=true')
    assert third.returncode != 0
    said = ' '.join(third.output.split())
    assert '1 file(s) differ from the manifest: models/tiny-v1/tiny.gguf (19 bytes, recorded 18)' in said, said
