"""The serving stack installed from the offline bundle alone, on a lab host with no network (issue 18).

molecule.yml starts onprem-offline with `--network=none`; prepare.yml built the bundle on the controller with the
bundle playbook; converge ran site.yml with deepseek_offline_bundle (and its pin), and site.yml's own last step already
got a completion. These tests show where everything came from and that nothing else could have been reached.
"""

import json
import os
import shlex

import pytest

PROJECT = os.environ.get('MOLECULE_PROJECT_DIRECTORY', os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))))
LAB = os.path.join(PROJECT, '.cache', 'offline-lab')
BUNDLE_APT = 'file:/var/lib/onprem-deepseek/bundle/apt/trixie'
KEY = 'lab-offline-0123456789abcdef01234567'
CA = '/etc/onprem-deepseek/gateway-ca.crt'

# A completion through the gateway from inside the host (the host has no other way in), over TLS 1.3 checked against
# the gateway's CA; prints the TLS version and the answer's JSON.
COMPLETION = r'''
import http.client, json, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
conn = http.client.HTTPSConnection('localhost', 443, context=ctx, timeout=120)
body = json.dumps({'model': 'deepseek-tiny', 'max_tokens': 8, 'messages': [{'role': 'user', 'content': 'hello'}]})
conn.request('POST', '/v1/chat/completions', body, {'Authorization': 'Bearer ' + sys.argv[2], 'Content-Type': 'application/json'})
resp = conn.getresponse()
print(conn.sock.version())
print(resp.status)
print(resp.read().decode())
'''


def _bundle():
    with open(os.path.join(LAB, 'bundle', 'bundle.json'), encoding='utf-8') as handle:
        return json.load(handle)


def test_the_host_has_loopback_and_nothing_else(host):
    links = host.run('ip -o link show').stdout.splitlines()
    assert [line.split(':')[1].strip() for line in links] == ['lo'], links
    assert host.run('ip route show').stdout.strip() == ''
    assert host.run('ip -6 route show').stdout.strip() in ('', '::1 dev lo proto kernel metric 256 pref medium')
    # No name service, no route: a connection out fails at once.
    out = host.run('python3 -c "import socket; socket.create_connection((\'151.101.2.132\', 80), timeout=5)"')
    assert out.rc != 0 and 'Network is unreachable' in out.stderr, out.stderr


def test_apt_reads_the_bundle_and_nothing_else(host):
    sources = host.run('apt-get indextargets --format "\\$(URI)"').stdout.split()
    assert sources and all(uri.startswith(BUNDLE_APT) for uri in sources), sources


@pytest.mark.parametrize('package', ['podman', 'nginx', 'prometheus-node-exporter'])
def test_the_roles_packages_came_from_the_bundle(host, package):
    assert host.package(package).is_installed
    policy = host.run('apt-cache policy %s' % package).stdout
    # The installed version's only origin is the bundle's repository (the host's own sources are not read).
    assert BUNDLE_APT in policy, policy
    assert 'deb.debian.org' not in policy, policy


def test_a_vendor_repository_s_package_came_through_the_bundle(host):
    # prepare.yml gave the bundle a vendor's own signed repository (bundle_apt_sources, standing in for NVIDIA's CUDA
    # repository) and named its one package in bundle_apt_packages_extra: the host, which has only the bundle, installs
    # it, and bundle.json says where it came from.
    policy = host.run('apt-cache policy onprem-vendor-probe').stdout
    assert 'Candidate: 1.0' in policy and BUNDLE_APT in policy, policy
    install = host.run('timeout 120 env DEBIAN_FRONTEND=noninteractive apt-get install --yes --no-install-recommends onprem-vendor-probe')
    assert install.rc == 0, install.stdout + install.stderr
    assert host.file('/usr/share/doc/onprem-vendor-probe/README').contains('vendor repository')
    source = _bundle()['parts']['apt-trixie']['source']
    assert ' and vendor-probe file:%s/vendor-repo' % LAB in source and 'http://deb.debian.org/debian-security' in source, source


def test_a_package_the_bundle_lacks_fails_at_once_naming_it(host):
    out = host.run('timeout 60 apt-get install --yes --no-install-recommends cowsay')
    assert out.rc == 100, out.stdout + out.stderr
    assert 'Unable to locate package cowsay' in out.stderr


def test_the_engine_image_and_the_model_are_the_bundle_s(host):
    bundle = _bundle()
    about = bundle['about']['deployments']
    assert [(d['deployment'], d['engine'], d['model']) for d in about] == [('offline', 'llama_cpp', 'tiny-llama-v1')]
    image = about[0]['image']
    assert host.run('podman image exists %s' % image).rc == 0
    with open(os.path.join(LAB, 'bundle', 'models', 'tiny-llama-v1.json'), encoding='utf-8') as handle:
        manifest = json.load(handle)
    model = host.file('/srv/deepseek/models/tiny-llama-v1/tiny.gguf')
    assert model.sha256sum == manifest[0]['sha256']
    assert host.file('/srv/deepseek/models/tiny-llama-v1/.onprem-deepseek-verified').is_file


def test_a_completion_over_tls13_on_the_host(host):
    out = host.run('python3 -c %s %s %s' % (shlex.quote(COMPLETION), CA, KEY))
    assert out.rc == 0, out.stderr
    version, status, body = out.stdout.split('\n', 2)
    assert version == 'TLSv1.3'
    assert status == '200', body
    answer = json.loads(body)
    assert answer['choices'][0]['message']['content'] is not None
    assert answer['usage']['completion_tokens'] >= 1
