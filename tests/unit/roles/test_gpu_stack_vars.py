"""Render the GPU stack's package lists the way the roles do (first_found over vars/, then Jinja over the role's
defaults, vars/main.yml, the OS facts and the resolved branch/flavor/hardware) and resolve every install spec and APT
pin against NVIDIA's and the distributions' package listings in tests/unit/fixtures/nvidia_repos/ (sources in its
README): the tests compare the roles with upstream, not with themselves."""

import fnmatch
import os
import re

import pytest
import yaml
from ansible.template import Templar, trust_as_template
from ansible.parsing.dataloader import DataLoader

HERE = os.path.dirname(__file__)
ROLES = os.path.abspath(os.path.join(HERE, os.pardir, os.pardir, os.pardir, 'roles'))
LISTINGS = os.path.abspath(os.path.join(HERE, os.pardir, 'fixtures', 'nvidia_repos'))

FACTS = {
    'ubuntu2204': {'distribution': 'Ubuntu', 'distribution_major_version': '22', 'distribution_version': '22.04',
                   'os_family': 'Debian', 'distribution_release': 'jammy', 'architecture': 'x86_64'},
    'ubuntu2404': {'distribution': 'Ubuntu', 'distribution_major_version': '24', 'distribution_version': '24.04',
                   'os_family': 'Debian', 'distribution_release': 'noble', 'architecture': 'x86_64'},
    'rocky9': {'distribution': 'Rocky', 'distribution_major_version': '9', 'distribution_version': '9.4',
               'os_family': 'RedHat', 'distribution_release': 'Blue Onyx', 'architecture': 'x86_64'},
    'rhel9': {'distribution': 'RedHat', 'distribution_major_version': '9', 'distribution_version': '9.4',
              'os_family': 'RedHat', 'distribution_release': 'Plow', 'architecture': 'x86_64'},
    'debian12': {'distribution': 'Debian', 'distribution_major_version': '12', 'distribution_version': '12.8',
                 'os_family': 'Debian', 'distribution_release': 'bookworm', 'architecture': 'x86_64'},
    'debian13': {'distribution': 'Debian', 'distribution_major_version': '13', 'distribution_version': '13.1',
                 'os_family': 'Debian', 'distribution_release': 'trixie', 'architecture': 'x86_64'},
}
# NVIDIA's CUDA repository listing and the distribution's archive listing of each OS (fixture file names).
NVIDIA_LISTING = {'ubuntu2204': 'nvidia-ubuntu2204-x86_64', 'ubuntu2404': 'nvidia-ubuntu2404-x86_64', 'rocky9': 'nvidia-rhel9-x86_64',
                  'rhel9': 'nvidia-rhel9-x86_64', 'debian12': 'nvidia-debian12-x86_64', 'debian13': 'nvidia-debian13-x86_64'}
DISTRIBUTION_LISTING = {'ubuntu2204': 'ubuntu-jammy-amd64', 'ubuntu2404': 'ubuntu-noble-amd64',
                        'debian12': 'debian-bookworm-amd64', 'debian13': 'debian-trixie-amd64'}
NO_GPU = {'gpu_count': 0, 'gpu_generations': [], 'nvidia_kernel_flavor': 'open', 'nvidia_open_required': False,
          'nvlink5': False, 'nvswitch_count': 0, 'rdma_devices': []}
HGX_H100 = dict(NO_GPU, gpu_count=8, gpu_generations=['hopper'], nvswitch_count=4)
HGX_B200 = dict(NO_GPU, gpu_count=8, gpu_generations=['blackwell'], nvidia_open_required=True, nvlink5=True)
V100 = dict(NO_GPU, gpu_count=8, gpu_generations=['pre-turing'], nvidia_kernel_flavor='proprietary')


def _load(path):
    # Trusted as templates, as ansible loads role vars files.
    return DataLoader().load_from_file(path, cache='none', trusted_as_template=True) or {}


def _text(path):
    with open(path) as handle:
        return trust_as_template(handle.read())


def _t(templar, expression):
    return templar.template(trust_as_template(expression))


def _listing(name):
    """{package: [(version, source), ...]} from a fixture listing."""
    packages = {}
    with open(os.path.join(LISTINGS, name + '.txt')) as handle:
        for line in handle:
            if line.startswith('#') or not line.strip():
                continue
            fields = line.split()
            packages.setdefault(fields[0], []).append((fields[1], ' '.join(fields[2:])))
    return packages


def _first_found(role, facts):
    """The file the roles' include_vars picks: distribution-major, distribution, os_family, default."""
    for name in ('%s-%s.yml' % (facts['distribution'], facts['distribution_major_version']),
                 '%s.yml' % facts['distribution'], '%s.yml' % facts['os_family'], 'default.yml'):
        path = os.path.join(ROLES, role, 'vars', name)
        if os.path.exists(path):
            return name, _load(path)
    raise AssertionError('no vars file for %s' % facts)


def _render(role, os_name, overrides=None, hardware=None, arch=None):
    facts = dict(FACTS[os_name], onprem_hardware=dict(hardware or NO_GPU))
    if arch:
        facts['architecture'] = arch
    name, os_vars = _first_found(role, facts)
    variables = {}
    variables.update(_load(os.path.join(ROLES, role, 'defaults', 'main.yml')))
    variables.update(_load(os.path.join(ROLES, role, 'vars', 'main.yml')))
    variables.update(os_vars)
    variables.update(overrides or {})
    variables['ansible_facts'] = facts
    return name, Templar(loader=DataLoader(), variables=variables), variables


def _driver(os_name, hardware=None, arch=None, **overrides):
    """nvidia_driver's variables with the facts tasks/vars.yml freezes (branch, flavor, source, fabric needs)."""
    name, templar, variables = _render('nvidia_driver', os_name, overrides, hardware, arch)
    resolved = {
        '__nvidia_driver_branch': _t(templar, '{{ __nvidia_driver_branch_resolved }}'),
        '__nvidia_driver_flavor': _t(templar, '{{ __nvidia_driver_flavor_resolved }}'),
        '__nvidia_driver_pkg_source': _t(templar, '{{ __nvidia_driver_pkg_source_resolved }}'),
        '__nvidia_driver_nvlink5': _t(templar, '{{ __nvidia_driver_nvlink5_resolved }}'),
        '__nvidia_driver_fabricmanager_required': _t(templar, '{{ __nvidia_driver_fabricmanager_resolved }}'),
    }
    templar.available_variables = dict(variables, **resolved)
    return name, templar


def _evr(version):
    """A listing version without its RPM epoch."""
    return version.split(':', 1)[-1]


def _resolve_apt(listing, spec):
    """Versions of the listing an apt install spec (name or name=glob) selects."""
    name, dummy, glob = spec.partition('=')
    return [v for v, dummy in listing.get(name, []) if not glob or fnmatch.fnmatch(v, glob)]


def _resolve_dnf(listing, names, spec):
    """Versions a dnf install spec (name, name-version or name-version-release, globs allowed) selects."""
    for name in sorted(names, key=len, reverse=True):
        if spec == name:
            return [v for v, dummy in listing.get(name, [])]
        if spec.startswith(name + '-'):
            glob = spec[len(name) + 1:]
            return [v for v, dummy in listing.get(name, [])
                    if fnmatch.fnmatch(_evr(v), glob) or fnmatch.fnmatch(_evr(v).split('-')[0], glob)]
    raise AssertionError('%s names none of %s' % (spec, names))


def _resolves(os_name, listing, names, specs):
    """Every spec selects at least one real entry; returns {name: newest selected version}."""
    chosen = {}
    for name, spec in zip(names, specs):
        found = _resolve_apt(listing, spec) if FACTS[os_name]['os_family'] == 'Debian' else _resolve_dnf(listing, names, spec)
        assert found, '%s: %s resolves to nothing in the listing (has: %s)' % (os_name, spec, listing.get(name))
        chosen[name] = sorted(found, key=lambda v: [int(x) for x in re.findall(r'\d+', _evr(v))])[-1]
    return chosen


def _upstream(version):
    return re.sub(r'-[^-]*$', '', _evr(version))


def _transitional(listing, name, version):
    return any(v == version and 'transitional:' in where for v, where in listing.get(name, []))


# --- nvidia_driver: NVIDIA's repository, every OS x branch x kernel-module flavor ---

DRIVER_MATRIX = [(os_name, branch, flavor)
                 for os_name, branches in [('ubuntu2204', ['550', '570', '575', '580', '590']),
                                           ('ubuntu2404', ['550', '570', '575', '580', '590']),
                                           ('debian12', ['550', '570', '575', '580', '590']),
                                           ('debian13', ['570', '575', '580', '590']),
                                           ('rocky9', ['550', '570', '575', '580', '590'])]
                 for branch in branches for flavor in ['open', 'proprietary']]


@pytest.mark.parametrize('os_name, branch, flavor', DRIVER_MATRIX)
def test_driver_packages_resolve_in_nvidia_repository(os_name, branch, flavor):
    listing = _listing(NVIDIA_LISTING[os_name])
    hardware = HGX_B200 if flavor == 'open' and branch >= '570' else HGX_H100
    dummy, templar = _driver(os_name, hardware=hardware, nvidia_driver_source='nvidia', nvidia_driver_branch=branch,
                             nvidia_driver_flavor=flavor)
    names = _t(templar, '{{ __nvidia_driver_install_packages + __nvidia_driver_branch_packages }}')
    specs = _t(templar, '{{ __nvidia_driver_install_specs }}')
    assert len(names) == len(specs) and all(s.startswith(n) for n, s in zip(names, specs))
    chosen = _resolves(os_name, listing, names, specs)
    # The APT pin of every set with a version selects a real entry of the branch.
    for pin in _t(templar, '{{ __nvidia_driver_pin_sets }}'):
        for package in pin['packages']:
            assert package in listing, '%s %s: %s is not in NVIDIA\'s listing' % (os_name, branch, package)
            if pin['version']:
                assert [v for v, dummy in listing[package] if fnmatch.fnmatch(_evr(v), pin['version'])], (package, pin['version'])
    # The APT pin (DNF: the branch's module stream) decides among the versions the install spec allows: the newest of the branch.
    pinned = [v for v, dummy in listing[names[0]] if fnmatch.fnmatch(_evr(v), _t(templar, '{{ __nvidia_driver_version_pin }}'))]
    assert chosen[names[0]] in [v for v, dummy in listing[names[0]]]
    installed = _upstream(sorted(pinned, key=lambda v: [int(x) for x in re.findall(r'\d+', _evr(v))])[-1])
    assert installed.startswith(branch + '.')
    # Fabric manager, NSCQ and (NVLink 5) libnvsdm at the installed driver's upstream version, whatever their revision.
    variables = dict(templar.available_variables, __nvidia_driver_installed_version=installed)
    templar.available_variables = variables
    fm_names = _t(templar, '{{ __nvidia_driver_fabricmanager_packages + __nvidia_driver_fabric_extra_packages }}')
    fm_specs = _t(templar, '{{ __nvidia_driver_fabricmanager_specs }}')
    fm_chosen = _resolves(os_name, listing, fm_names, fm_specs)
    for name in _t(templar, '{{ __nvidia_driver_fabricmanager_packages }}'):
        assert _upstream(fm_chosen[name]) == installed
    for name in _t(templar, '{{ __nvidia_driver_pinning_packages }}'):
        assert name in listing


@pytest.mark.parametrize('os_name, branch, fabricmanager, nscq', [
    ('ubuntu2404', '570', 'nvidia-fabricmanager-570', 'libnvidia-nscq-570'),
    ('ubuntu2404', '580', 'nvidia-fabricmanager', 'libnvidia-nscq'),
    ('debian12', '575', 'nvidia-fabricmanager-575', 'libnvidia-nscq-575'),
    ('debian13', '590', 'nvidia-fabricmanager', 'libnvidia-nscq'),
    ('rocky9', '570', 'nvidia-fabric-manager', 'libnvidia-nscq-570'),
    ('rocky9', '580', 'nvidia-fabricmanager', 'libnvidia-nscq'),
])
def test_fabricmanager_names_lost_the_branch_at_580(os_name, branch, fabricmanager, nscq):
    dummy, templar = _driver(os_name, hardware=HGX_H100, nvidia_driver_source='nvidia', nvidia_driver_branch=branch)
    assert _t(templar, '{{ __nvidia_driver_fabricmanager_packages }}') == [fabricmanager, nscq]


def test_fabricmanager_pinned_by_upstream_version_not_by_the_driver_revision():
    """NVIDIA's Ubuntu driver is 570.211.01-0ubuntu1, its fabric manager 570.211.01-1: an exact-revision pin has no candidate."""
    listing = _listing('nvidia-ubuntu2404-x86_64')
    dummy, templar = _driver('ubuntu2404', hardware=HGX_H100, nvidia_driver_source='nvidia', nvidia_driver_branch='570')
    templar.available_variables = dict(templar.available_variables, __nvidia_driver_installed_version='570.211.01')
    assert _t(templar, '{{ __nvidia_driver_fabricmanager_specs }}') == ['nvidia-fabricmanager-570=570.211.01-*', 'libnvidia-nscq-570=570.211.01-*']
    assert not _resolve_apt(listing, 'nvidia-fabricmanager-570=570.211.01-0ubuntu1')
    assert _resolve_apt(listing, 'nvidia-fabricmanager-570=570.211.01-*') == ['570.211.01-1']


def test_ubuntu_590_drops_the_branch_and_installs_the_pinning_package():
    dummy, templar = _driver('ubuntu2404', nvidia_driver_source='nvidia', nvidia_driver_branch='590', nvidia_driver_flavor='open')
    assert _t(templar, '{{ __nvidia_driver_install_packages }}') == ['nvidia-headless-no-dkms-open', 'nvidia-utils', 'nvidia-dkms-open']
    assert _t(templar, '{{ __nvidia_driver_pinning_packages }}') == ['nvidia-driver-pinning-590']
    assert 'Pin: version 590.*' in _pin_file(templar)


def test_nvidia_repository_has_no_server_packages():
    """nvidia_driver_server applies to Ubuntu's archive only: NVIDIA's repository has no -server driver packages."""
    listing = _listing('nvidia-ubuntu2204-x86_64')
    assert not [name for name in listing if name.endswith('-server') or '-server-' in name]
    dummy, templar = _driver('ubuntu2204', nvidia_driver_source='nvidia', nvidia_driver_branch='580', nvidia_driver_server=True)
    assert not [n for n in _t(templar, '{{ __nvidia_driver_install_packages }}') if 'server' in n]


@pytest.mark.parametrize('arch, expected', [('x86_64', ['nvidia-fabricmanager', 'libnvidia-nscq', 'libnvsdm']),
                                            ('aarch64', ['nvidia-fabricmanager', 'libnvidia-nscq'])])
@pytest.mark.parametrize('os_name, listing_name', [('ubuntu2404', 'nvidia-ubuntu2404'), ('rocky9', 'nvidia-rhel9')])
def test_nvlink5_boards_get_nvlsm_and_libnvsdm_where_nvidia_builds_it(os_name, listing_name, arch, expected):
    listing = _listing(listing_name + ('-sbsa' if arch == 'aarch64' else '-x86_64'))
    dummy, templar = _driver(os_name, hardware=HGX_B200, arch=arch, nvidia_driver_source='nvidia', nvidia_driver_branch='580')
    assert _t(templar, '{{ __nvidia_driver_fabricmanager_required }}') is True
    assert _t(templar, '{{ __nvidia_driver_fabricmanager_packages }}') == expected
    assert _t(templar, '{{ __nvidia_driver_fabric_extra_packages }}') == ['nvlsm']
    assert '/%s/' % ('sbsa' if arch == 'aarch64' else 'x86_64') in _t(templar, '{{ __nvidia_driver_nvidia_url }}')
    for name in expected + ['nvlsm']:
        assert name in listing
    assert ('libnvsdm' in listing) == (arch == 'x86_64')


# --- nvidia_driver: the distributions' own archives ---

@pytest.mark.parametrize('os_name', ['ubuntu2204', 'ubuntu2404'])
@pytest.mark.parametrize('flavor', ['open', 'proprietary'])
def test_ubuntu_archive_default_branch_is_one_the_archive_still_builds(os_name, flavor):
    listing = _listing(DISTRIBUTION_LISTING[os_name])
    dummy, templar = _driver(os_name, hardware=HGX_H100, nvidia_driver_flavor=flavor)
    branch = _t(templar, '{{ __nvidia_driver_branch }}')
    names = _t(templar, '{{ __nvidia_driver_install_packages }}')
    pin = _t(templar, '{{ __nvidia_driver_version_pin }}')
    for name in names + _t(templar, '{{ __nvidia_driver_fabricmanager_packages }}'):
        versions = [v for v, dummy in listing[name] if fnmatch.fnmatch(v, pin)]
        assert versions, (name, pin)
        # Not a transitional package that installs another branch.
        assert [v for v in versions if not _transitional(listing, name, v)], '%s %s is only transitional' % (name, branch)
    assert [n for n in names if n.endswith('-server-open' if flavor == 'open' else '-server')]


@pytest.mark.parametrize('os_name', ['ubuntu2204', 'ubuntu2404'])
def test_ubuntu_archive_570_is_now_transitional_to_580(os_name):
    """Why the default is 580: Ubuntu's 570 packages install 580 (the role checks the owner of nvidia-smi)."""
    listing = _listing(DISTRIBUTION_LISTING[os_name])
    dummy, templar = _driver(os_name, nvidia_driver_branch='570', nvidia_driver_flavor='proprietary')
    for name in _t(templar, '{{ __nvidia_driver_install_packages }}'):
        assert all(_transitional(listing, name, v) for v, dummy in listing[name] if v.startswith('570.2')), name


@pytest.mark.parametrize('os_name, branch', [('debian12', '535'), ('debian13', '550')])
@pytest.mark.parametrize('flavor', ['open', 'proprietary'])
def test_debian_archive_packages_resolve(os_name, branch, flavor):
    listing = _listing(DISTRIBUTION_LISTING[os_name])
    dummy, templar = _driver(os_name, nvidia_driver_flavor=flavor)
    assert _t(templar, '{{ __nvidia_driver_branch }}') == branch
    for pin in _t(templar, '{{ __nvidia_driver_pin_sets }}'):
        for name in pin['packages']:
            assert [v for v, dummy in listing[name] if fnmatch.fnmatch(v, pin['version'] or '*')], (name, pin['version'])
    assert _t(templar, '{{ __nvidia_driver_fabricmanager_packages }}') == []


def test_debian12_security_suite_carries_the_driver_security_update():
    """Without <release>-security the host stays on 535.261.03 while Debian ships 535.309.01 as a security update."""
    listing = _listing('debian-bookworm-amd64')
    assert ('535.309.01-0+deb12u1', 'bookworm-security/non-free') in listing['nvidia-kernel-dkms']
    dummy, templar = _driver('debian12')
    repos = _t(templar, '{{ __nvidia_driver_distribution_repos }}')
    assert [(r['uri'], r['suites']) for r in repos] == [
        ('http://deb.debian.org/debian', ['bookworm', 'bookworm-updates']),
        ('http://deb.debian.org/debian-security', ['bookworm-security'])]
    dummy, templar = _driver('ubuntu2404', nvidia_driver_distribution_security_url='http://mirror.site/ubuntu-security')
    assert [r['suites'][-1] for r in _t(templar, '{{ __nvidia_driver_distribution_repos }}')] == ['noble-updates', 'noble-security']
    assert _t(templar, '{{ __nvidia_driver_distribution_repos }}')[1]['uri'] == 'http://mirror.site/ubuntu-security'


# --- nvidia_driver: kernel modules, repositories, keys, persistence ---

@pytest.mark.parametrize('hardware, flavor', [(NO_GPU, 'open'), (HGX_H100, 'open'), (HGX_B200, 'open'), (V100, 'proprietary'),
                                              (dict(NO_GPU, nvidia_kernel_flavor=None), '')])
def test_flavor_auto_follows_the_gpu_generation(hardware, flavor):
    dummy, templar = _driver('ubuntu2404', hardware=hardware)
    assert _t(templar, '{{ __nvidia_driver_flavor }}') == flavor


def test_flavor_set_by_the_inventory_wins():
    dummy, templar = _driver('ubuntu2404', hardware=HGX_H100, nvidia_driver_flavor='proprietary')
    assert _t(templar, '{{ __nvidia_driver_flavor }}') == 'proprietary'


@pytest.mark.parametrize('os_name, open_userspace', [
    ('ubuntu2404', ['nvidia-headless-no-dkms-580-server-open', 'nvidia-utils-580-server']),
    ('debian13', ['nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'libnvidia-cfg1']),
])
def test_open_flavor_installs_the_open_userspace_package(os_name, open_userspace):
    dummy, templar = _driver(os_name, nvidia_driver_flavor='open')
    assert _t(templar, '{{ __nvidia_driver_userspace }}') == open_userspace


@pytest.mark.parametrize('os_name, vars_file, branch', [
    ('ubuntu2204', 'Ubuntu.yml', '580'), ('ubuntu2404', 'Ubuntu.yml', '580'), ('rocky9', 'RedHat.yml', '580'),
    ('debian12', 'Debian.yml', '535'), ('debian13', 'Debian.yml', '550'),
])
def test_driver_vars_file_and_default_branch(os_name, vars_file, branch):
    name, templar = _driver(os_name)
    assert name == vars_file
    assert _t(templar, '{{ __nvidia_driver_branch }}') == branch


@pytest.mark.parametrize('os_name, listing', [('debian12', 'nvidia-debian12-x86_64'), ('debian13', 'nvidia-debian13-x86_64')])
def test_nvidia_s_repository_gets_a_branch_it_carries_by_default(os_name, listing):
    """Debian's own default (535 in 12) is not in NVIDIA's debian12 tree, which starts at 550 (the listing): from NVIDIA's
    repository the default is its production branch, and every driver package resolves there."""
    packages = _listing(listing)
    dummy, templar = _driver(os_name, hardware=HGX_H100, nvidia_driver_source='nvidia')
    assert _t(templar, '{{ __nvidia_driver_branch }}') == '580'
    for pin in _t(templar, '{{ __nvidia_driver_pin_sets }}')[:2]:
        for name in pin['packages']:
            assert [v for v, dummy in packages[name] if fnmatch.fnmatch(v, pin['version'] or '*')], (name, pin['version'])
    if os_name == 'debian12':
        dummy, templar = _driver(os_name, nvidia_driver_source='distribution')
        own = _t(templar, '{{ __nvidia_driver_branch }}')
        assert own == '535' and not [v for v, dummy in packages['nvidia-kernel-open-dkms'] if v.startswith(own + '.')]


@pytest.mark.parametrize('os_name, key', [
    ('ubuntu2204', 'ubuntu2204/x86_64/3bf863cc.pub'), ('ubuntu2404', 'ubuntu2404/x86_64/3bf863cc.pub'),
    ('debian12', 'debian12/x86_64/3bf863cc.pub'), ('debian13', 'debian13/x86_64/8793F200.pub'),
    ('rocky9', 'rhel9/x86_64/D42D0685.pub'),
])
def test_nvidia_repository_key_per_os(os_name, key):
    dummy, templar = _driver(os_name)
    assert _t(templar, '{{ __nvidia_driver_nvidia_key_url }}') == 'https://developer.download.nvidia.com/compute/cuda/repos/' + key


@pytest.mark.parametrize('os_name, module', [('rocky9', 'nvidia-driver:580-open'), ('rhel9', 'nvidia-driver:580-open')])
def test_rhel_module_stream_epel_and_crb(os_name, module):
    dummy, templar = _driver(os_name, hardware=HGX_H100, nvidia_driver_source='nvidia')
    assert _t(templar, '{{ __nvidia_driver_dnf_module }}') == module
    if os_name == 'rhel9':
        assert _t(templar, '{{ __nvidia_driver_crb_rhsm }}') == ['codeready-builder-for-rhel-9-x86_64-rpms']
        assert _t(templar, '{{ __nvidia_driver_crb_dnf }}') == []
        assert _t(templar, '{{ __nvidia_driver_epel_release }}') == 'https://dl.fedoraproject.org/pub/epel/epel-release-latest-9.noarch.rpm'
    else:
        assert _t(templar, '{{ __nvidia_driver_crb_dnf }}') == ['crb']
        assert _t(templar, '{{ __nvidia_driver_epel_release }}') == 'epel-release'
    assert _t(templar, '{{ __nvidia_driver_dkms_prerequisites }}') == ['dkms']


@pytest.mark.parametrize('os_name', ['ubuntu2404', 'debian13', 'rocky9'])
def test_persistenced_drop_in_turns_persistence_on(os_name):
    dummy, templar = _driver(os_name)
    command = _t(templar, '{{ __nvidia_driver_persistenced_exec }}')
    assert '--persistence-mode' in command.split() and '--no-persistence-mode' not in command
    with open(os.path.join(ROLES, 'nvidia_driver', 'tasks', 'service.yml')) as handle:
        service = handle.read()
    assert 'ExecStart=\n      ExecStart={{ __nvidia_driver_persistenced_exec }}' in service


def _pin_file(templar, sets='{{ __nvidia_driver_pin_sets }}', name='nvidia-driver'):
    variables = dict(templar.available_variables, nvidia_driver_pin_sets=_t(templar, sets), nvidia_driver_pin_name=name,
                     nvidia_driver_pin_priority=1001, __nvidia_driver_marker='marker')
    templar.available_variables = variables
    return templar.template(_text(os.path.join(ROLES, 'nvidia_driver', 'templates', 'apt-preferences.j2')))


@pytest.mark.parametrize('version, expected', [('', 'Pin: version 580.*'), ('580.126.20', 'Pin: version 580.126.20-*')])
def test_driver_apt_pin_template(version, expected):
    dummy, templar = _driver('ubuntu2404', hardware=HGX_H100, nvidia_driver_branch='580', nvidia_driver_version=version,
                             nvidia_driver_flavor='open')
    text = _pin_file(templar)
    assert ('Package: nvidia-headless-no-dkms-580-server-open nvidia-utils-580-server nvidia-dkms-580-server-open '
            'nvidia-fabricmanager-580 libnvidia-nscq-580\n%s\nPin-Priority: 1001' % expected) in text
    # Ubuntu builds persistenced with the driver, nothing is held without a pin here: one stanza.
    assert text.count('Package:') == 1


def test_unattended_upgrades_blacklist_template():
    dummy, templar = _driver('debian13', nvidia_driver_flavor='proprietary')
    variables = dict(templar.available_variables, nvidia_driver_pin_sets=_t(templar, '{{ __nvidia_driver_pin_sets }}'),
                     nvidia_driver_pin_name='nvidia-driver')
    templar.available_variables = variables
    text = templar.template(_text(os.path.join(ROLES, 'nvidia_driver', 'templates', 'unattended-upgrades-blacklist.j2')))
    assert '"^nvidia\\-smi$";' in text
    assert '"^nvidia\\-persistenced$";' in text


def _problems(role, templar, task_file='assert.yml'):
    """The sentences the role's collect-problems task yields for these variables."""
    with open(os.path.join(ROLES, role, 'tasks', task_file)) as handle:
        tasks = yaml.safe_load(handle)
    task = [t for t in tasks if 'ansible.builtin.set_fact' in t and t['name'].startswith('Collect the problems')][0]
    variables = dict(templar.available_variables)
    for key, value in task['vars'].items():
        variables[key] = trust_as_template(value) if isinstance(value, str) else [trust_as_template(v) for v in value]
    templar.available_variables = variables
    checks = [c for c in task['vars'] if c.endswith('_checks')][0]
    return [p for p in _t(templar, '{{ %s }}' % checks) if p]


def test_driver_input_problems_name_variable_value_and_allowed_values():
    dummy, templar = _driver('rocky9', hardware=HGX_B200, nvidia_driver_flavor='proprietary', nvidia_driver_branch='550',
                             nvidia_driver_version='570.1.2')
    templar.available_variables = dict(templar.available_variables, inventory_hostname='gpu1')
    assert _problems('nvidia_driver', templar) == [
        'nvidia_driver_version is "570.1.2"; allowed: empty or a version of branch 550 (550.<minor>.<patch>)',
        'nvidia_driver_source is distribution, which has no NVIDIA driver for Rocky 9.4; allowed: nvidia or mirror',
        'nvidia_driver_flavor is proprietary, but this host has blackwell GPUs, which run only with the open kernel modules;'
        ' allowed: open or auto',
        'nvidia_driver_fabricmanager is auto and this host has 0 NVSwitch(es) and an NVLink 5 board, but nvidia_driver_source'
        ' distribution has no fabric manager for Rocky 9.4; allowed: nvidia or a mirror of the NVIDIA repository',
        'nvidia_driver_nvlink5 is auto (NVLink 5 board: nvlsm and libnvsdm needed), but nvidia_driver_source distribution has no'
        ' NVLink 5 packages for Rocky 9.4; allowed: nvidia or a mirror of the NVIDIA repository',
        'nvidia_driver_branch is 550, but this host has an NVLink 5 board (data-centre Blackwell), which branches before 570 do'
        ' not drive; allowed: 570 or newer',
    ]


def test_driver_input_without_problems():
    dummy, templar = _driver('ubuntu2404', hardware=HGX_H100)
    assert _problems('nvidia_driver', templar) == []


def test_ubuntu_archive_fabricmanager_needs_the_server_driver():
    dummy, templar = _driver('ubuntu2404', hardware=HGX_H100, nvidia_driver_server=False)
    assert _problems('nvidia_driver', templar) == [
        'nvidia_driver_server is false, but the fabric manager packages of Ubuntu 24.04 depend on the -server driver;'
        ' allowed: true (or nvidia_driver_source nvidia)']


# --- cuda ---

def _cuda(os_name, hardware=None, **overrides):
    overrides.setdefault('nvidia_driver_source', 'nvidia')
    name, templar, variables = _render('cuda', os_name, overrides, hardware)
    resolved = {'__cuda_version': _t(templar, '{{ __cuda_version_resolved }}'),
                '__cuda_pkg_source': _t(templar, '{{ __cuda_pkg_source_resolved }}'),
                '__cuda_kernel_flavor': _t(templar, '{{ __cuda_kernel_flavor_resolved }}')}
    templar.available_variables = dict(variables, **resolved)
    resolved.update({'__cuda_toolkit': _t(templar, '{{ __cuda_toolkit_resolved }}'),
                     '__cuda_cudnn': _t(templar, '{{ __cuda_cudnn_resolved }}'),
                     '__cuda_nccl': _t(templar, '{{ __cuda_nccl_resolved }}')})
    templar.available_variables = dict(variables, **resolved)
    return name, templar


CUDA_MATRIX = [(os_name, cuda) for os_name in ['ubuntu2204', 'ubuntu2404', 'debian13', 'rocky9'] for cuda in ['12.4', '12.8', '12.9', '13.0']] \
    + [('debian12', '13.0')]


@pytest.mark.parametrize('os_name, cuda', CUDA_MATRIX)
def test_cuda_packages_resolve_in_nvidia_repository(os_name, cuda):
    listing = _listing(NVIDIA_LISTING[os_name])
    dummy, templar = _cuda(os_name, cuda_version=cuda)
    names = _t(templar, '{{ __cuda_toolkit + __cuda_cudnn + __cuda_nccl }}')
    specs = _t(templar, '{{ __cuda_install_specs }}')
    chosen = _resolves(os_name, listing, names, specs)
    for name in _t(templar, '{{ __cuda_nccl }}'):
        assert chosen[name].endswith('+cuda' + cuda), 'NCCL for CUDA %s picked %s' % (cuda, chosen[name])
    for pin in _t(templar, '{{ __cuda_pin_sets }}'):
        for name in pin['packages']:
            assert [v for v, dummy in listing[name] if fnmatch.fnmatch(_evr(v), pin['version'] or '*')], (name, pin['version'])


def test_nccl_without_a_version_is_still_pinned_to_the_cuda_build():
    """Unpinned, apt would take 2.28.9-1+cuda13.0 (needs a 580 driver) next to a 570 driver and CUDA 12.8."""
    listing = _listing('nvidia-ubuntu2204-x86_64')
    dummy, templar = _cuda('ubuntu2204', cuda_version='12.8')
    specs = _t(templar, '{{ __cuda_install_specs }}')
    assert specs[-2:] == ['libnccl2=*+cuda12.8', 'libnccl-dev=*+cuda12.8']
    assert _resolve_apt(listing, 'libnccl2=*+cuda12.8') == ['2.25.1-1+cuda12.8']
    assert max(v for v, dummy in listing['libnccl2']).endswith('+cuda13.0')
    dummy, templar = _cuda('ubuntu2204', cuda_version='12.9', cuda_nccl_version='2.27.7')
    assert _t(templar, '{{ __cuda_install_specs }}')[-1] == 'libnccl-dev=2.27.7-*+cuda12.9'
    assert 'Pin: version 2.27.7-*+cuda12.9' in _pin_file(templar, '{{ __cuda_pin_sets }}', 'cuda')


def test_nccl_dnf_spec_and_its_own_cuda_build():
    dummy, templar = _cuda('rocky9', cuda_version='12.9', cuda_nccl_version='2.27.7', cuda_nccl_cuda_version='13.0')
    assert _t(templar, '{{ __cuda_install_specs }}')[-2:] == ['libnccl-2.27.7-*+cuda13.0', 'libnccl-devel-2.27.7-*+cuda13.0']
    assert _resolve_dnf(_listing('nvidia-rhel9-x86_64'), ['libnccl'], 'libnccl-2.27.7-*+cuda13.0') == ['2.27.7-1+cuda13.0']


@pytest.mark.parametrize('os_name, cuda, nccl', [('ubuntu2204', '11.5', []), ('ubuntu2404', '12.0', ['libnccl2', 'libnccl-dev']),
                                                 ('debian12', '11.8', []), ('debian13', '12.4', ['libnccl2', 'libnccl-dev'])])
def test_cuda_from_the_distribution_resolves_and_has_no_offline_cudnn(os_name, cuda, nccl):
    listing = _listing(DISTRIBUTION_LISTING[os_name])
    dummy, templar = _cuda(os_name, nvidia_driver_source='distribution')
    assert _t(templar, '{{ __cuda_version }}') == cuda
    # nvidia-cudnn is an install script that downloads cuDNN from NVIDIA: never the distribution's default.
    assert _t(templar, '{{ __cuda_cudnn }}') == []
    assert 'nvidia-cudnn' in listing
    assert _t(templar, '{{ __cuda_nccl }}') == nccl
    assert [n for n in nccl if n not in listing] == []
    for pin in _t(templar, '{{ __cuda_pin_sets }}'):
        for name in [n for n in pin['packages'] if n in nccl or n == 'nvidia-cuda-toolkit']:
            assert [v for v, dummy in listing[name] if fnmatch.fnmatch(v, pin['version'] or '*')], (name, pin['version'])
    # The distributions' NCCL has no +cuda build suffix: no such pin.
    assert '+cuda' not in _t(templar, '{{ __cuda_nccl_version_pin }}')


@pytest.mark.parametrize('os_name, listing', [('debian12', 'nvidia-debian12-x86_64'), ('ubuntu2204', 'nvidia-ubuntu2204-x86_64')])
def test_the_release_s_cuda_version_is_not_taken_for_nvidia_s_repository(os_name, listing):
    """Debian 12 ships CUDA 11.8 and Ubuntu 22.04 11.5; NVIDIA's repositories for them carry neither toolkit (the
    listings in tests/unit/fixtures/nvidia_repos/): from NVIDIA's repository cuda_version is required (the role's assert
    names it) instead of a toolkit name that does not resolve."""
    dummy, templar = _cuda(os_name, nvidia_driver_source='nvidia')
    assert _t(templar, '{{ __cuda_version_resolved }}') == ''
    dummy, templar = _cuda(os_name, nvidia_driver_source='distribution')
    default = _t(templar, '{{ __cuda_version_resolved }}')
    assert 'cuda-toolkit-' + default.replace('.', '-') not in _listing(listing)


def test_cuda_follows_the_driver_mirror():
    dummy, templar = _cuda('ubuntu2204', nvidia_driver_source='mirror', nvidia_driver_mirror_url='https://mirror.site/cuda/',
                           nvidia_driver_repo_key='-----BEGIN PGP PUBLIC KEY BLOCK-----', cuda_version='12.8')
    assert _t(templar, '{{ cuda_source }}') == 'mirror'
    assert _t(templar, '{{ cuda_mirror_url }}') == 'https://mirror.site/cuda/'
    assert _t(templar, '{{ cuda_repo_key }}').startswith('-----BEGIN PGP PUBLIC KEY BLOCK-----')


@pytest.mark.parametrize('overrides, flavor', [({}, 'open'), ({'nvidia_driver_kernel_flavor': 'proprietary'}, 'proprietary'),
                                               ({'cuda_kernel_flavor': 'open', 'nvidia_driver_kernel_flavor': 'proprietary'}, 'open')])
def test_cuda_kernel_flavor_follows_the_driver(overrides, flavor):
    dummy, templar = _cuda('ubuntu2404', hardware=HGX_H100, cuda_version='12.8', **overrides)
    assert _t(templar, '{{ __cuda_kernel_flavor }}') == flavor


@pytest.mark.parametrize('os_name, source, module', [
    ('debian12', 'distribution', 'nvidia-current-peermem'),
    ('debian13', 'nvidia', 'nvidia-peermem'),
    ('ubuntu2204', 'distribution', 'nvidia-peermem'),
    ('rocky9', 'nvidia', 'nvidia-peermem'),
])
def test_peermem_unit_loads_the_module_the_source_installs(os_name, source, module):
    dummy, templar = _cuda(os_name, cuda_version='12.8')
    templar.available_variables = dict(templar.available_variables, __cuda_pkg_source=source)
    unit = templar.template(_text(os.path.join(ROLES, 'cuda', 'templates', 'onprem-nvidia-peermem.service.j2')))
    assert 'ExecStart=/sbin/modprobe %s\n' % module in unit
    assert 'After=rdma-load-modules@rdma.service openibd.service' in unit


def test_cuda_input_problems():
    dummy, templar = _cuda('rocky9', cuda_version='12', cuda_nccl_version='2.27', cuda_source='distribution')
    templar.available_variables = dict(templar.available_variables, inventory_hostname='gpu1')
    assert _problems('cuda', templar) == [
        'cuda_version is "12"; allowed: major.minor (12.8), required for the nvidia and mirror sources',
        'cuda_nccl_version is "2.27"; allowed: empty or an NCCL version (2.27.7)',
        'cuda_source is distribution, which has no CUDA toolkit for Rocky 9.4; allowed: nvidia or mirror',
    ]


# --- container_toolkit ---

def _toolkit(os_name, **overrides):
    return _render('container_toolkit', os_name, overrides)


@pytest.mark.parametrize('os_name, listing_name, version', [
    ('ubuntu2404', 'libnvidia-container-deb-amd64', '1.17.8'), ('ubuntu2204', 'libnvidia-container-deb-amd64', '1.20.1'),
    ('debian13', 'libnvidia-container-deb-amd64', '1.18.1'), ('rocky9', 'libnvidia-container-rpm-x86_64', '1.20.1'),
    ('rocky9', 'libnvidia-container-rpm-x86_64', '1.18.1'),
])
def test_container_toolkit_installs_all_four_packages_at_one_version(os_name, listing_name, version):
    listing = _listing(listing_name)
    dummy, templar, variables = _toolkit(os_name, container_toolkit_version=version)
    names = _t(templar, '{{ __container_toolkit_packages_resolved }}')
    assert names == ['nvidia-container-toolkit', 'nvidia-container-toolkit-base', 'libnvidia-container-tools', 'libnvidia-container1']
    chosen = _resolves(os_name, listing, names, _t(templar, '{{ __container_toolkit_install_specs }}'))
    assert set(_upstream(v) for v in chosen.values()) == {version}


def test_container_toolkit_needs_the_pin_on_libnvidia_container_tools():
    """nvidia-container-toolkit 1.17.8 allows any libnvidia-container-tools from 1.17.8 to 2.0 (NVIDIA's Packages)."""
    with open(os.path.join(LISTINGS, 'README.md')) as handle:
        assert 'libnvidia-container-tools (>= 1.17.8-1), libnvidia-container-tools (<< 2.0.0)' in handle.read()


@pytest.mark.parametrize('os_name, url, gpg', [
    ('ubuntu2204', 'https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH)', None),
    ('rocky9', 'https://nvidia.github.io/libnvidia-container/stable/rpm/$basearch', (False, True)),
    ('debian13', 'https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH)', None),
])
def test_container_toolkit_repository(os_name, url, gpg):
    dummy, templar, variables = _toolkit(os_name)
    assert _t(templar, '{{ __container_toolkit_nvidia_url }}') == url
    assert _t(templar, '{{ __container_toolkit_nvidia_key_url }}') == 'https://nvidia.github.io/libnvidia-container/gpgkey'
    # Neither Debian nor Ubuntu 22.04/24.04 package the toolkit (checked against their listings).
    assert variables['__container_toolkit_distribution_packages'] == []
    if gpg:
        assert (variables['__container_toolkit_gpgcheck'], variables['__container_toolkit_repo_gpgcheck']) == gpg


@pytest.mark.parametrize('listing', ['ubuntu-jammy-amd64', 'ubuntu-noble-amd64', 'debian-bookworm-amd64', 'debian-trixie-amd64'])
def test_no_distribution_packages_the_container_toolkit(listing):
    assert 'nvidia-container-toolkit' not in _listing(listing)


def test_cdi_refresh_since_1_18():
    dummy, templar, variables = _toolkit('ubuntu2404')
    assert variables['__container_toolkit_cdi_refresh_since'] == '1.18.0'
    assert variables['__container_toolkit_cdi_refresh_spec'] == '/var/run/cdi/nvidia.yaml'


# --- the collection-wide rules ---

def test_one_repository_path():
    """Only nvidia_driver writes repository files: the distribution's (repository.yml) and every vendor repository or
    site mirror with its pinned key (source.yml: its own NVIDIA source, cuda's through the repository entry point,
    container_toolkit's and fabric's through the source entry point)."""
    writers = []
    for role in ('nvidia_driver', 'cuda', 'container_toolkit', 'fabric'):
        for dirpath, dummy, files in os.walk(os.path.join(ROLES, role, 'tasks')):
            for name in files:
                with open(os.path.join(dirpath, name)) as handle:
                    text = handle.read()
                if 'yum_repository' in text or 'deb822_repository' in text or 'get_url' in text:
                    writers.append(os.path.relpath(os.path.join(dirpath, name), ROLES))
    assert sorted(writers) == ['nvidia_driver/tasks/repository.yml', 'nvidia_driver/tasks/source.yml']
    with open(os.path.join(ROLES, 'container_toolkit', 'tasks', 'sources.yml')) as handle:
        assert 'tasks_from: source' in handle.read()


def test_one_package_pinning_path():
    for role in ('cuda', 'container_toolkit'):
        for dirpath, dummy, files in [d for d in os.walk(os.path.join(ROLES, role)) if '/tasks' in d[0] or '/templates' in d[0]]:
            for name in files:
                with open(os.path.join(dirpath, name)) as handle:
                    text = handle.read()
                assert 'dpkg_selections' not in text and 'dnf_versionlock' not in text and 'preferences.d' not in text, name


def test_every_fixture_entry_names_a_documented_source():
    with open(os.path.join(LISTINGS, 'README.md')) as handle:
        readme = handle.read()
    for name in os.listdir(LISTINGS):
        if not name.startswith(('nvidia-', 'libnvidia-')):
            continue
        for versions in _listing(name[:-4]).values():
            for dummy, source in versions:
                assert '`%s`' % source in readme, '%s: source %s is not in the README' % (name, source)


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


@pytest.mark.parametrize('role', ['nvidia_driver', 'cuda', 'container_toolkit'])
def test_every_default_is_in_the_readme(role):
    defaults = _load(os.path.join(ROLES, role, 'defaults', 'main.yml'))
    with open(os.path.join(ROLES, role, 'README.md')) as handle:
        readme = handle.read()
    assert [name for name in defaults if name not in readme] == []
    assert 'unverified on hardware' in readme
