"""Render the GPU stack's per-OS variables for releases the lab does not run (Ubuntu 22.04/24.04, Rocky 9) and for
Debian, the way the roles do: first_found over vars/, then Jinja over the role's defaults, the OS facts and the
resolved branch/version. Asserts package names, pins and key handling per source."""

import os

import pytest
from ansible.template import Templar, trust_as_template
from ansible.parsing.dataloader import DataLoader

ROLES = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, os.pardir, 'roles'))

FACTS = {
    'ubuntu2204': {'distribution': 'Ubuntu', 'distribution_major_version': '22', 'distribution_version': '22.04',
                   'os_family': 'Debian', 'distribution_release': 'jammy'},
    'ubuntu2404': {'distribution': 'Ubuntu', 'distribution_major_version': '24', 'distribution_version': '24.04',
                   'os_family': 'Debian', 'distribution_release': 'noble'},
    'rocky9': {'distribution': 'Rocky', 'distribution_major_version': '9', 'distribution_version': '9.4',
               'os_family': 'RedHat', 'distribution_release': 'Blue Onyx'},
    'debian12': {'distribution': 'Debian', 'distribution_major_version': '12', 'distribution_version': '12.8',
                 'os_family': 'Debian', 'distribution_release': 'bookworm'},
    'debian13': {'distribution': 'Debian', 'distribution_major_version': '13', 'distribution_version': '13.1',
                 'os_family': 'Debian', 'distribution_release': 'trixie'},
}


def _load(path):
    # Trusted as templates, as ansible loads role vars files.
    return DataLoader().load_from_file(path, cache='none', trusted_as_template=True) or {}


def _text(path):
    with open(path) as handle:
        return trust_as_template(handle.read())


def _first_found(role, facts):
    """The file tasks/vars.yml picks: distribution-major, distribution, os_family, default."""
    for name in ('%s-%s.yml' % (facts['distribution'], facts['distribution_major_version']),
                 '%s.yml' % facts['distribution'], '%s.yml' % facts['os_family'], 'default.yml'):
        path = os.path.join(ROLES, role, 'vars', name)
        if os.path.exists(path):
            return name, _load(path)
    raise AssertionError('no vars file for %s' % facts)


def _render(role, os_name, overrides=None):
    facts = FACTS[os_name]
    name, os_vars = _first_found(role, facts)
    variables = {}
    variables.update(_load(os.path.join(ROLES, role, 'defaults', 'main.yml')))
    variables.update(_load(os.path.join(ROLES, role, 'vars', 'main.yml')))
    variables.update(os_vars)
    variables.update(overrides or {})
    variables['ansible_facts'] = facts
    templar = Templar(loader=DataLoader(), variables=variables)
    return name, templar, variables


def _driver(os_name, **overrides):
    name, templar, variables = _render('nvidia_driver', os_name, overrides)
    branch = overrides.get('nvidia_driver_branch') or variables['__nvidia_driver_branch_default'][FACTS[os_name]['distribution_major_version']]
    templar.available_variables = dict(variables, __nvidia_driver_branch=branch)
    return name, templar


@pytest.mark.parametrize('os_name, vars_file, branch', [
    ('ubuntu2204', 'Ubuntu.yml', '570'), ('ubuntu2404', 'Ubuntu.yml', '570'), ('rocky9', 'RedHat.yml', '570'),
    ('debian12', 'Debian.yml', '535'), ('debian13', 'Debian.yml', '550'),
])
def test_driver_vars_file_and_default_branch(os_name, vars_file, branch):
    name, templar = _driver(os_name)
    assert name == vars_file
    assert templar.template(trust_as_template('{{ __nvidia_driver_branch }}')) == branch


def test_ubuntu_server_driver_packages_and_fabricmanager():
    dummy, templar = _driver('ubuntu2204', nvidia_driver_branch='550')
    lockstep = templar.template(trust_as_template('{{ __nvidia_driver_lockstep }}'))
    assert lockstep['distribution']['userspace'] == ['nvidia-headless-no-dkms-550-server', 'nvidia-utils-550-server']
    assert lockstep['distribution']['proprietary'] == ['nvidia-dkms-550-server']
    assert lockstep['distribution']['open'] == ['nvidia-dkms-550-server-open']
    assert lockstep['distribution']['fabricmanager'] == ['nvidia-fabricmanager-550', 'libnvidia-nscq-550']
    assert templar.template(trust_as_template('{{ __nvidia_driver_headers_prefix }}')) == 'linux-headers-'


def test_ubuntu_non_server_packages():
    dummy, templar = _driver('ubuntu2404', nvidia_driver_branch='570', nvidia_driver_server=False)
    assert templar.template(trust_as_template('{{ __nvidia_driver_lockstep }}'))['nvidia']['userspace'][0] == 'nvidia-headless-no-dkms-570'


def test_ubuntu_nvidia_repository_and_key():
    dummy, templar = _driver('ubuntu2204')
    assert templar.template(trust_as_template('{{ __nvidia_driver_nvidia_url }}')) == \
        'https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2204/x86_64/'
    assert templar.template(trust_as_template('{{ __nvidia_driver_nvidia_key_url }}')).endswith('/ubuntu2204/x86_64/3bf863cc.pub')
    assert templar.template(trust_as_template('{{ __nvidia_driver_distribution_keyring }}')) == '/usr/share/keyrings/ubuntu-archive-keyring.gpg'


def test_rocky_driver_from_nvidia_module_stream_with_gpg_key():
    dummy, templar = _driver('rocky9', nvidia_driver_branch='565', nvidia_driver_flavor='open')
    assert templar.template(trust_as_template('{{ __nvidia_driver_pkg_mgr }}')) == 'dnf'
    assert templar.template(trust_as_template('{{ __nvidia_driver_dnf_module }}')) == 'nvidia-driver:565-open'
    assert templar.template(trust_as_template('{{ __nvidia_driver_nvidia_url }}')) == \
        'https://developer.download.nvidia.com/compute/cuda/repos/rhel9/x86_64/'
    assert templar.template(trust_as_template('{{ __nvidia_driver_nvidia_key_url }}')).endswith('/rhel9/x86_64/D42D0685.pub')
    lockstep = templar.template(trust_as_template('{{ __nvidia_driver_lockstep }}'))
    # RHEL ships no NVIDIA driver: the distribution source has nothing, which the role's assert refuses.
    assert lockstep['distribution']['userspace'] == []
    assert lockstep['nvidia']['open'] == ['kmod-nvidia-open-dkms']
    assert lockstep['nvidia']['fabricmanager'] == ['nvidia-fabric-manager', 'libnvidia-nscq-565']
    assert templar.template(trust_as_template('{{ __nvidia_driver_headers_prefix }}')) == 'kernel-devel-'


def test_debian_fabricmanager_only_from_nvidia():
    dummy, templar = _driver('debian12')
    lockstep = templar.template(trust_as_template('{{ __nvidia_driver_lockstep }}'))
    assert lockstep['distribution']['fabricmanager'] == []
    assert lockstep['nvidia']['fabricmanager'] == ['nvidia-fabricmanager-535', 'libnvidia-nscq-535']
    assert lockstep['nvidia']['open'] == ['nvidia-kernel-open-dkms']


@pytest.mark.parametrize('version, expected', [('', 'Pin: version 550.*'), ('550.127.05', 'Pin: version 550.127.05-*')])
def test_driver_apt_pin_template(version, expected):
    dummy, templar = _driver('ubuntu2404', nvidia_driver_branch='550', nvidia_driver_version=version)
    variables = dict(templar.available_variables)
    variables['__nvidia_driver_lockstep_all'] = ['nvidia-headless-no-dkms-550-server', 'nvidia-fabricmanager-550']
    templar.available_variables = variables
    text = templar.template(_text(os.path.join(ROLES, 'nvidia_driver', 'templates', 'apt-preferences.j2')))
    assert 'Package: nvidia-headless-no-dkms-550-server nvidia-fabricmanager-550\n%s\nPin-Priority: 1001' % expected in text
    # Ubuntu builds persistenced with the driver: no second stanza.
    assert text.count('Package:') == 1


def test_unattended_upgrades_blacklist_template():
    dummy, templar = _driver('debian13')
    variables = dict(templar.available_variables, __nvidia_driver_lockstep_all=['nvidia-smi', 'libcuda1'])
    templar.available_variables = variables
    text = templar.template(_text(os.path.join(ROLES, 'nvidia_driver', 'templates', 'unattended-upgrades-blacklist.j2')))
    assert '"^nvidia\\-smi$";' in text
    assert '"^nvidia\\-persistenced$";' in text


def _cuda(os_name, **overrides):
    overrides.setdefault('cuda_version', '12.4')
    name, templar, variables = _render('cuda', os_name, dict({'nvidia_driver_source': 'nvidia'}, **overrides))
    templar.available_variables = dict(variables, __cuda_version=overrides['cuda_version'])
    return name, templar


@pytest.mark.parametrize('os_name, toolkit, nccl, key', [
    ('ubuntu2204', 'cuda-toolkit-12-4', ['libnccl2', 'libnccl-dev'], 'ubuntu2204/x86_64/3bf863cc.pub'),
    ('ubuntu2404', 'cuda-toolkit-12-4', ['libnccl2', 'libnccl-dev'], 'ubuntu2404/x86_64/3bf863cc.pub'),
    ('rocky9', 'cuda-toolkit-12-4', ['libnccl', 'libnccl-devel'], 'rhel9/x86_64/D42D0685.pub'),
    ('debian12', 'cuda-toolkit-12-4', ['libnccl2', 'libnccl-dev'], 'debian12/x86_64/3bf863cc.pub'),
])
def test_cuda_packages_from_nvidia(os_name, toolkit, nccl, key):
    dummy, templar = _cuda(os_name)
    packages = templar.template(trust_as_template('{{ __cuda_packages }}'))['nvidia']
    assert packages['toolkit'] == [toolkit]
    assert packages['cudnn'] == ['cudnn9-cuda-12']
    assert packages['nccl'] == nccl
    assert packages['home'] == '/usr/local/cuda-12.4'
    assert templar.template(trust_as_template('{{ __cuda_nvidia_key_url }}')).endswith(key)
    assert templar.template(trust_as_template('{{ cuda_source }}')) == 'nvidia'


def test_cuda_debian_distribution_nccl_only_in_13():
    dummy, templar = _cuda('debian12', cuda_version='11.8')
    assert templar.template(trust_as_template('{{ __cuda_packages }}'))['distribution']['nccl'] == []
    dummy, templar = _cuda('debian13')
    assert templar.template(trust_as_template('{{ __cuda_packages }}'))['distribution']['nccl'] == ['libnccl2', 'libnccl-dev']


def test_cuda_follows_the_driver_mirror():
    dummy, templar = _cuda('ubuntu2204', nvidia_driver_source='mirror', nvidia_driver_mirror_url='https://mirror.site/cuda/',
                           nvidia_driver_repo_key='-----BEGIN PGP PUBLIC KEY BLOCK-----')
    assert templar.template(trust_as_template('{{ cuda_source }}')) == 'mirror'
    assert templar.template(trust_as_template('{{ cuda_mirror_url }}')) == 'https://mirror.site/cuda/'
    assert templar.template(trust_as_template('{{ cuda_repo_key }}')).startswith('-----BEGIN PGP PUBLIC KEY BLOCK-----')


@pytest.mark.parametrize('os_name, url, distribution', [
    ('ubuntu2204', 'https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH)', ['nvidia-container-toolkit']),
    ('rocky9', 'https://nvidia.github.io/libnvidia-container/stable/rpm/$basearch', []),
    ('debian13', 'https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH)', []),
])
def test_container_toolkit_repository(os_name, url, distribution):
    dummy, templar, variables = _render('container_toolkit', os_name)
    assert templar.template(trust_as_template('{{ __container_toolkit_nvidia_url }}')) == url
    assert templar.template(trust_as_template('{{ __container_toolkit_nvidia_key_url }}')) == 'https://nvidia.github.io/libnvidia-container/gpgkey'
    assert variables['__container_toolkit_distribution_packages'] == distribution


@pytest.mark.parametrize('role', ['nvidia_driver', 'cuda', 'container_toolkit'])
def test_no_source_is_ever_trusted_without_a_key(role):
    for dirpath, dummy, files in os.walk(os.path.join(ROLES, role)):
        for name in (f for f in files if f.endswith(('.yml', '.j2'))):
            with open(os.path.join(dirpath, name)) as handle:
                text = '\n'.join(line for line in handle.read().lower().splitlines() if not line.lstrip().startswith('#'))
            assert 'trusted: true' not in text and 'trusted=yes' not in text and '[trusted' not in text


@pytest.mark.parametrize('role', ['nvidia_driver', 'cuda', 'container_toolkit'])
def test_every_default_is_in_the_argument_spec(role):
    defaults = _load(os.path.join(ROLES, role, 'defaults', 'main.yml'))
    spec = _load(os.path.join(ROLES, role, 'meta', 'argument_specs.yml'))['argument_specs']['main']['options']
    assert sorted(defaults) == sorted(spec)
    for name in defaults:
        assert name.startswith(role + '_')


@pytest.mark.parametrize('os_name, source, module', [
    ('debian12', 'distribution', 'nvidia-current-peermem'),
    ('debian13', 'nvidia', 'nvidia-peermem'),
    ('ubuntu2204', 'distribution', 'nvidia-peermem'),
    ('rocky9', 'nvidia', 'nvidia-peermem'),
])
def test_peermem_unit_loads_the_module_the_source_installs(os_name, source, module):
    dummy, templar = _cuda(os_name)
    variables = dict(templar.available_variables, __cuda_pkg_source=source)
    templar.available_variables = variables
    unit = templar.template(_text(os.path.join(ROLES, 'cuda', 'templates', 'onprem-nvidia-peermem.service.j2')))
    assert 'ExecStart=/sbin/modprobe %s\n' % module in unit
    assert 'After=rdma-load-modules@rdma.service openibd.service' in unit
