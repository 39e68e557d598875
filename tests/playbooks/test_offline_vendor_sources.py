"""An air-gapped GPU host: the vendor sources (nvidia_driver's `source` entry point, which container_toolkit's repository
and the fabric role's OFED mirror run too) are left to the offline bundle.

The host is a Debian 13 container with no network. Its vendor source names a key URL on the container's own loopback
(nothing listens there: a fetch fails at once, and no packet leaves the container). With `deepseek_offline_bundle` set,
the source is neither written nor its key fetched, and the run says why; without it the same run fails on the key's
download, naming the URL (what an air-gapped host did before: NVIDIA's key URL is unreachable there).
"""

import json
import shutil
import uuid

import pytest

from test_bundle_playbook import _playbook
from test_offline_bundle_role import IMAGE, _podman

KEY_URL = 'http://127.0.0.1:9/vendor/key.asc'

pytestmark = pytest.mark.skipif(shutil.which('podman') is None
                                or _podman('image', 'exists', IMAGE, check=False).returncode != 0,
                                reason='needs podman and the lab image %s (scripts/dev images)' % IMAGE)


@pytest.fixture
def host(tmp_path):
    name = 'onprem-offline-vendor-%s' % uuid.uuid4().hex[:8]
    _podman('run', '-d', '--rm', '--network', 'none', '--name', name, IMAGE, 'sleep', '600')
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(json.dumps({'all': {'hosts': {'gpu-1': {
        'ansible_connection': 'containers.podman.podman', 'ansible_host': name, 'ansible_python_interpreter': '/usr/bin/python3'}}}}))
    playbook = tmp_path / 'vendor.yml'
    playbook.write_text(
        '- hosts: all\n  gather_facts: true\n  gather_subset: [min]\n  tasks:\n'
        '    - name: A vendor repository (as container_toolkit and fabric configure theirs)\n'
        '      ansible.builtin.include_role:\n        name: onprem.deepseek.nvidia_driver\n        tasks_from: source\n'
        '      vars:\n        nvidia_driver_source_name: onprem-test-vendor\n'
        '        nvidia_driver_source_url: http://127.0.0.1:9/vendor/\n'
        '        nvidia_driver_source_key: %s\n' % KEY_URL)
    yield name, str(inventory), str(playbook)
    _podman('rm', '-f', '-t', '0', name, check=False)


def test_with_the_bundle_no_source_is_written_and_no_key_fetched(host):
    name, inventory, playbook = host
    result = _playbook(playbook, '-i', inventory, '-e', 'deepseek_offline_bundle=/srv/bundle')
    assert result.returncode == 0, result.output
    said = ' '.join(result.output.split())
    assert 'onprem-test-vendor: not written, its key not fetched: this host installs from the offline bundle' in said, said
    for path in ('/etc/apt/sources.list.d/onprem-test-vendor.sources', '/etc/apt/keyrings/onprem-test-vendor.asc'):
        assert _podman('exec', name, 'test', '-e', path, check=False).returncode == 1, path


def test_without_the_bundle_the_key_download_fails_naming_the_url(host):
    _name, inventory, playbook = host
    result = _playbook(playbook, '-i', inventory)
    assert result.returncode != 0, result.output
    assert 'Download the repository key' in result.output and KEY_URL in result.output, result.output
