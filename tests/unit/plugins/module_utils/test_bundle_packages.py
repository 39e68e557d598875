# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Which Debian packages site.yml installs on which host (module_utils/bundle_packages.py).

The package names are the roles' own lists, read from their vars files as playbooks/bundle.yml reads them; the
expected packages of each case are those lists, so a changed list changes the expectation with it.
"""

from __future__ import annotations

import os

import yaml

from ansible_collections.onprem.deepseek.plugins.module_utils import bundle_packages

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def _vars(role, name):
    with open(os.path.join(ROOT, 'roles', role, 'vars', name), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


CR = _vars('container_runtime', 'main.yml')
GW = _vars('gateway', 'main.yml')
MON = _vars('monitoring', 'Debian.yml')
LB = _vars('loadbalancer', 'main.yml')
BK = _vars('backup', 'main.yml')
ES = _vars('encrypted_storage', 'Debian.yml')
FB = _vars('fabric', 'Debian.yml')
TABLES = {
    'container_runtime': CR['__container_runtime_packages'],
    'gateway': GW['__gateway_packages'],
    'monitoring': {'exporter': MON['__monitoring_exporter_packages'], 'mtail': MON['__monitoring_mtail_packages'],
                   'server': MON['__monitoring_server_packages'], 'grafana': MON['__monitoring_grafana_packages']},
    'loadbalancer': {'haproxy': LB['__loadbalancer_packages'], 'keepalived': LB['__loadbalancer_vrrp_packages']},
    'backup': {'restic': BK['__backup_packages'], 'sftp': BK['__backup_sftp_packages']},
    'encrypted_storage': {'base': ES['__encrypted_storage_packages_base'], 'clevis': ES['__encrypted_storage_packages_clevis'],
                          'tpm2': ES['__encrypted_storage_packages_tpm2'], 'xfs': ES['__encrypted_storage_packages_xfs']},
    'fabric': {'rdma': FB['__fabric_packages_default'], 'opensm': FB['__fabric_opensm_packages']},
}
PODMAN = CR['__container_runtime_packages']['podman']['distribution']
# Every host site.yml installs packages on gets the binding Ansible's apt module needs (an offline host cannot fetch it).
APT = ['python3-apt']


def _packages(name, groups, hostvars):
    return sorted(set(p for _rule, packages in bundle_packages.host_packages(name, groups, hostvars, TABLES) for p in packages))


def test_a_one_box_serving_host_gets_the_runtime_the_gateway_and_its_exporters():
    groups = {'deepseek': ['box'], 'deepseek_inference': ['box']}
    hostvars = {'box': {'deepseek_deployment': 'one', 'container_runtime_oci_runtime': 'runc'}}
    expected = PODMAN + ['runc'] + GW['__gateway_packages'] + MON['__monitoring_exporter_packages'] + MON['__monitoring_mtail_packages'] + APT
    assert _packages('box', groups, hostvars) == sorted(set(expected))
    # A one-box with fabric_transport auto needs no fabric; NVIDIA packages are named as not derived.
    result = bundle_packages.site_packages(groups, hostvars, TABLES)
    assert 'rdma-core' not in result['packages']
    assert result['by_host']['box'][0] == 'container_runtime (podman from distribution): %s runc' % ' '.join(PODMAN)
    assert result['not_covered'][0].startswith('NVIDIA packages')


def test_a_worker_of_a_multi_node_deployment_gets_no_gateway_and_no_mtail_but_the_fabric():
    groups = {'deepseek': ['head', 'worker'], 'deepseek_inference': ['head', 'worker']}
    hostvars = {'head': {'deepseek_deployment': 'v3'}, 'worker': {'deepseek_deployment': 'v3', 'inference_node_role': 'worker'}}
    worker = _packages('worker', groups, hostvars)
    assert 'nginx' not in worker and 'mtail' not in worker
    assert set(FB['__fabric_packages_default']) <= set(worker) and 'opensm' not in worker
    assert 'nginx' in _packages('head', groups, hostvars)
    # A subnet manager on the host (InfiniBand without a managed switch).
    hostvars['worker'].update(fabric_transport='infiniband', fabric_subnet_manager='host')
    assert 'opensm' in _packages('worker', groups, hostvars)
    # fabric_transport none: nothing of the fabric even in a deployment of two hosts.
    hostvars['head']['fabric_transport'] = 'none'
    assert 'rdma-core' not in _packages('head', groups, hostvars)


def test_backups_encrypted_volumes_and_another_engine():
    groups = {'deepseek': ['s'], 'deepseek_inference': ['s']}
    hostvars = {'s': {'container_runtime_engine': 'docker',
                      'backup_repositories': [{'name': 'off', 'url': 'sftp:backup@vault:/restic'}],
                      'encrypted_storage_volumes': [{'name': 'models', 'device': '/dev/nvme1n1', 'fstype': 'xfs'}],
                      'encrypted_storage_unlock': 'tpm2'}}
    got = _packages('s', groups, hostvars)
    assert set(CR['__container_runtime_packages']['docker']['distribution']) <= set(got) and 'podman' not in got
    assert {'restic', 'openssh-client'} <= set(got)
    assert set(ES['__encrypted_storage_packages_base'] + ES['__encrypted_storage_packages_clevis']
               + ES['__encrypted_storage_packages_tpm2'] + ES['__encrypted_storage_packages_xfs']) <= set(got)
    # A local restic repository needs no SSH client; a passphrase-only volume no clevis.
    hostvars['s'].update(backup_repositories=[{'name': 'local', 'url': '/srv/backup'}], encrypted_storage_unlock='passphrase',
                         encrypted_storage_volumes=[{'name': 'models', 'device': '/dev/nvme1n1'}])
    got = _packages('s', groups, hostvars)
    assert 'openssh-client' not in got and 'clevis' not in got and 'xfsprogs' not in got and 'cryptsetup' in got


def test_front_doors_and_the_monitoring_server():
    groups = {'deepseek': ['s'], 'deepseek_inference': ['s'], 'deepseek_frontdoor': ['fd1'], 'monitoring': ['mon']}
    hostvars = {'s': {}, 'fd1': {'loadbalancer_vip': '10.0.0.100/24'}, 'mon': {'monitoring_grafana_url': 'https://grafana.internal'}}
    assert _packages('fd1', groups, hostvars) == sorted(set(LB['__loadbalancer_packages'] + LB['__loadbalancer_vrrp_packages'] + APT))
    assert _packages('mon', groups, hostvars) == sorted(set(MON['__monitoring_exporter_packages'] + MON['__monitoring_server_packages']
                                                            + MON['__monitoring_grafana_packages'] + APT))
    # monitoring_server set in the inventory, as for a one-box; the exporter switched off.
    hostvars['s'].update(monitoring_server='true', monitoring_node_exporter=False)
    got = _packages('s', groups, hostvars)
    assert 'prometheus' in got and 'prometheus-node-exporter' not in got
    hostvars['fd1'] = {}
    assert 'keepalived' not in _packages('fd1', groups, hostvars)


def test_the_union_is_sorted_and_holds_the_extra_packages():
    groups = {'deepseek': ['a', 'b'], 'deepseek_inference': ['a', 'b']}
    hostvars = {'a': {'deepseek_deployment': 'x'}, 'b': {'deepseek_deployment': 'y'}}
    result = bundle_packages.site_packages(groups, hostvars, TABLES, extra=['nvidia-smi'])
    assert result['packages'] == sorted(result['packages']) and 'nvidia-smi' in result['packages']
    assert list(result['by_host']) == ['a', 'b']


# Vendor repositories of the bundle's APT builder (bundle_apt_sources), rendered in the deb822 format of sources.list(5)
# ("DEB822-STYLE FORMAT": Types, URIs, Suites, Components, Signed-By; "if the suite is an exact path, it must end with
# a slash and Components must not be given"). The URI and key name are those of NVIDIA's CUDA repository for Debian 12
# (https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/3bf863cc.pub, as in
# roles/nvidia_driver/vars/Debian.yml), here behind a site mirror.
def test_a_flat_vendor_repository_renders_as_deb822_without_components():
    result = bundle_packages.apt_sources([{'name': 'nvidia-cuda', 'uris': 'https://mirror.example/cuda/repos/debian12/x86_64/',
                                           'key': '/srv/keys/3bf863cc.pub.asc'}])
    assert result['problems'] == []
    [repo] = result['repositories']
    assert repo['key_file'] == 'nvidia-cuda.asc' and repo['sources_file'] == 'nvidia-cuda.sources'
    assert repo['content'] == ('Types: deb\nURIs: https://mirror.example/cuda/repos/debian12/x86_64/\nSuites: ./\n'
                               'Signed-By: /extra/nvidia-cuda.asc\n')


def test_gpu_hosts_are_the_serving_hosts_with_an_nvidia_catalogue_gpu():
    groups = {'deepseek': ['hgx', 'pcie', 'amd', 'cpu', 'custom', 'typo', 'front'],
              'deepseek_inference': ['hgx', 'pcie', 'amd', 'cpu', 'custom', 'typo'], 'deepseek_frontdoor': ['front']}
    hostvars = {'hgx': {'deepseek_gpu': 'H100-SXM5-80GB'}, 'pcie': {'deepseek_gpu': 'H100 PCIe'}, 'amd': {'deepseek_gpu': 'MI300X'},
                'cpu': {}, 'custom': {'deepseek_gpu': {'memory_gib': 48}}, 'typo': {'deepseek_gpu': 'H1000'},
                'front': {'deepseek_gpu': 'H100-80G'}}
    result = bundle_packages.gpu_hosts(groups, hostvars)
    # Aliases resolve to the catalogue entry; the hardware is hardware.catalog_hardware's (tests/unit/.../test_hardware.py).
    assert sorted(result['hosts']) == ['hgx', 'pcie']
    assert result['hosts']['hgx']['gpu'] == 'H100-80G' and result['hosts']['hgx']['hardware']['nvswitch_count'] == 1
    assert result['hosts']['pcie']['gpu'] == 'H100-PCIe' and result['hosts']['pcie']['hardware']['nvswitch_count'] == 0
    assert sorted(result['skipped']) == ['amd', 'cpu', 'custom']
    assert 'not an NVIDIA GPU' in result['skipped']['amd'] and 'a CPU host' in result['skipped']['cpu']
    assert len(result['problems']) == 1 and result['problems'][0].startswith("typo: deepseek_gpu='H1000' is not a catalogue GPU")


def test_a_gpu_host_s_rules_go_before_the_apt_binding_and_into_the_union():
    groups = {'deepseek': ['box'], 'deepseek_inference': ['box']}
    hostvars = {'box': {'deepseek_deployment': 'one'}}
    gpu = {'box': [['nvidia_driver (distribution)', ['nvidia-smi', 'nvidia-open-kernel-dkms']], ['nvidia_driver (fabric manager)', []]]}
    result = bundle_packages.site_packages(groups, hostvars, TABLES, gpu=gpu)
    assert {'nvidia-smi', 'nvidia-open-kernel-dkms'} <= set(result['packages'])
    lines = result['by_host']['box']
    assert lines[-2] == 'nvidia_driver (distribution): nvidia-smi nvidia-open-kernel-dkms'      # an empty rule is left out
    assert lines[-1].startswith('Ansible (its apt module')


def test_a_named_suite_needs_components_and_a_binary_key_keeps_gpg():
    result = bundle_packages.apt_sources([{'name': 'ofed', 'uris': ['file:/srv/ofed', 'https://m/ofed'], 'suites': 'bookworm',
                                           'components': ['main'], 'key': '/k/ofed.gpg'}])
    assert result['problems'] == []
    assert result['repositories'][0]['content'] == ('Types: deb\nURIs: file:/srv/ofed https://m/ofed\nSuites: bookworm\n'
                                                    'Components: main\nSigned-By: /extra/ofed.gpg\n')


def test_problems_name_the_item_key_and_value_and_skip_the_item():
    result = bundle_packages.apt_sources([{'name': 'a', 'uris': 'https://m/a', 'key': '/k/a.asc'},
                                          {'name': 'a', 'uris': 'https://m/a', 'key': '/k/a.asc'},
                                          'text',
                                          {'name': 'b', 'uris': 'https://m/b', 'suites': ['./', 'bookworm'], 'components': ['main'], 'key': '/k/b'},
                                          {'name': 'c', 'uris': [], 'key': '/k/c'}])
    assert [r['name'] for r in result['repositories']] == ['a']
    assert result['problems'] == [
        "bundle_apt_sources['a']: the name is given twice.",
        "bundle_apt_sources[2] is 'text': want a mapping {name, uris, suites, components, key}.",
        "bundle_apt_sources['b'].suites=./ bookworm: flat ('./') and named suites cannot be mixed in one source.",
        "bundle_apt_sources['c'].uris=[]: want one or more http://, https:// or file:/ URIs.",
    ]
    assert bundle_packages.apt_sources('x')['problems'] == ["bundle_apt_sources must be a list of {name, uris, suites, components, key} (it is 'x')."]
    assert bundle_packages.apt_sources(None) == {'problems': [], 'repositories': []}
