"""The GPU stack on lab containers without a GPU: real Debian packages (distribution on Debian 12, an air-gapped
signed mirror on Debian 13) pinned and held, configuration written, GPU-only steps skipped with a reason."""

import json
import os
import subprocess

import pytest

MIRROR_HOST = 'onprem-gpu-trixie'
DRIVER = {'onprem-gpu-bookworm': '535', 'onprem-gpu-trixie': '550'}
CUDA = {'onprem-gpu-bookworm': ('11.8', ['libcudart11.0']), 'onprem-gpu-trixie': ('12.4', ['libcudart12', 'libnccl2'])}
DRIVER_PACKAGES = ['nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'libnvidia-cfg1', 'nvidia-persistenced']


def _name(host):
    return host.backend.get_hostname()


def _selection(host, package):
    """dpkg's selection of PACKAGE (multi-arch packages are listed as name:arch)."""
    name, selection = host.check_output('dpkg --get-selections %s' % package).split()
    assert name.split(':')[0] == package
    return selection


@pytest.mark.parametrize('package', DRIVER_PACKAGES)
def test_driver_packages_installed_in_branch_and_held(host, package):
    pkg = host.package(package)
    assert pkg.is_installed
    assert pkg.version.startswith(DRIVER[_name(host)] + '.')
    assert _selection(host, package) == 'hold'


def test_cuda_packages_installed_in_version_and_held(host):
    version, packages = CUDA[_name(host)]
    for package in packages:
        assert host.package(package).is_installed
        assert _selection(host, package) == 'hold'
    assert host.package(packages[0]).version.startswith(version + '.')


def test_no_kernel_was_pulled_in(host):
    assert host.run("dpkg-query -W 'linux-image-[0-9]*'").stdout.strip() == ''


def test_apt_pins(host):
    driver = host.file('/etc/apt/preferences.d/onprem-nvidia-driver.pref').content_string
    # No GPU seen: the open modules, NVIDIA's default since 560 (pinned with the driver, not installed in a container).
    assert 'Package: nvidia-smi libcuda1 libnvidia-ml1 libnvidia-cfg1 nvidia-open-kernel-dkms\n' in driver
    assert 'Pin: version %s.*\nPin-Priority: 1001' % DRIVER[_name(host)] in driver
    assert 'Package: nvidia-persistenced\n' in driver
    cuda = host.file('/etc/apt/preferences.d/onprem-cuda.pref').content_string
    assert 'Pin: version %s.*\nPin-Priority: 1001' % CUDA[_name(host)][0] in cuda
    # The pin decides the candidate: apt would install nothing newer than the branch.
    policy = host.check_output('apt-cache policy nvidia-smi')
    assert 'Candidate: %s.' % DRIVER[_name(host)] in policy


def test_unattended_upgrades_blacklist(host):
    driver = host.file('/etc/apt/apt.conf.d/51onprem-nvidia-driver-blacklist')
    assert driver.mode == 0o644
    assert 'Unattended-Upgrade::Package-Blacklist {' in driver.content_string
    for package in DRIVER_PACKAGES:
        assert '"^%s$";' % package.replace('-', '\\-') in driver.content_string
    cuda = host.file('/etc/apt/apt.conf.d/51onprem-cuda-blacklist').content_string
    for package in CUDA[_name(host)][1]:
        assert '"^%s$";' % package.replace('-', '\\-').replace('.', '\\.') in cuda


def test_sources_are_signed_and_never_trusted(host):
    listing = host.check_output('cat /etc/apt/sources.list.d/onprem-*.sources')
    assert 'trusted' not in listing.lower()
    if _name(host) == MIRROR_HOST:
        mirror = host.file('/etc/apt/sources.list.d/onprem-nvidia-mirror.sources').content_string
        assert 'URIs: file:///srv/mirror/' in mirror
        assert 'Signed-By: /etc/apt/keyrings/onprem-nvidia-mirror.asc' in mirror
        with open(os.path.join(os.environ['MOLECULE_PROJECT_DIRECTORY'], '.cache/mirror/trixie/key.asc')) as handle:
            assert host.file('/etc/apt/keyrings/onprem-nvidia-mirror.asc').content_string.strip() == handle.read().strip()
        assert not host.file('/etc/apt/sources.list.d/onprem-nvidia-distribution.sources').exists
        # Installed from the mirror, which is the only source that has these packages here.
        assert 'file:/srv/mirror ./ Packages' in host.check_output('apt-cache policy nvidia-smi')
        # The fabric role's OFED mirror, through the same source entry point: its own file and pinned key.
        ofed = host.file('/etc/apt/sources.list.d/onprem-fabric-ofed.sources').content_string
        assert 'URIs: file:///srv/ofed-mirror/' in ofed and 'Suites: ./' in ofed
        assert 'file:/srv/ofed-mirror ./ Packages' in host.check_output('apt-cache policy libnccl2')
        assert 'Signed-By: /etc/apt/keyrings/onprem-fabric-ofed.asc' in ofed
        with open(os.path.join(os.environ['MOLECULE_PROJECT_DIRECTORY'], '.cache/mirror/trixie/key.asc')) as handle:
            assert host.file('/etc/apt/keyrings/onprem-fabric-ofed.asc').content_string.strip() == handle.read().strip()
    else:
        dist = host.file('/etc/apt/sources.list.d/onprem-nvidia-distribution.sources').content_string
        assert 'Components: contrib non-free non-free-firmware' in dist
        assert 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' in dist
        assert 'Suites: bookworm bookworm-updates' in dist
        # Debian ships driver security updates (535.309.01 for bookworm) only in its security suite.
        security = host.file('/etc/apt/sources.list.d/onprem-nvidia-distribution-security.sources').content_string
        assert 'URIs: http://deb.debian.org/debian-security' in security
        assert 'Suites: bookworm-security' in security
        assert 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' in security
        assert 'bookworm-security/non-free' in host.check_output('apt-cache policy nvidia-smi')


def test_persistenced_enabled_with_persistence_mode_on(host):
    assert host.service('nvidia-persistenced').is_enabled
    drop_in = host.file('/etc/systemd/system/nvidia-persistenced.service.d/onprem-persistence-mode.conf')
    assert drop_in.mode == 0o644
    assert 'ExecStart=\nExecStart=/usr/bin/nvidia-persistenced --user nvpd --persistence-mode\n' in drop_in.content_string
    # What systemd will run: the drop-in's command line, not the package's.
    exec_start = host.check_output('systemctl show --property=ExecStart nvidia-persistenced')
    assert '--persistence-mode' in exec_start and '--no-persistence-mode' not in exec_start


def test_power_limit_unit(host):
    unit = host.file('/etc/systemd/system/onprem-nvidia-settings.service')
    assert 'ExecStart=/usr/bin/nvidia-smi --power-limit=600' in unit.content_string
    assert 'ConditionPathExists=/dev/nvidiactl' in unit.content_string
    assert host.service('onprem-nvidia-settings').is_enabled


def test_nouveau_blacklisted(host):
    content = host.file('/etc/modprobe.d/onprem-nvidia-nouveau.conf').content_string
    assert 'blacklist nouveau' in content
    assert 'options nouveau modeset=0' in content


def test_nccl_conf_from_inventory_and_fabric(host):
    lines = [l for l in host.file('/etc/nccl.conf').content_string.splitlines() if not l.startswith('#')]
    # No RDMA device in a container: the fabric role resolves transport auto to none (sockets only), then the socket
    # interface and the inventory's settings.
    assert lines == ['NCCL_DEBUG=WARN', 'NCCL_IB_DISABLE=1', 'NCCL_SOCKET_IFNAME==eth0']


def test_cuda_environment(host):
    ld = host.file('/etc/ld.so.conf.d/onprem-cuda.conf').content_string
    assert '/usr/lib/nvidia-cuda-toolkit/lib64' in ld
    profile = host.file('/etc/profile.d/onprem-cuda.sh').content_string
    assert 'export CUDA_HOME=/usr/lib/nvidia-cuda-toolkit' in profile
    assert host.run('ldconfig -p | grep -q libcudart').rc == 0


def test_no_peermem_without_rdma(host):
    assert not host.file('/etc/systemd/system/onprem-nvidia-peermem.service').exists


def _playbook(name, extra_vars, limit, extra=()):
    inventory = os.environ['MOLECULE_INVENTORY_FILE']
    playbook = os.path.join(os.environ['MOLECULE_SCENARIO_DIRECTORY'], name)
    cmd = ['ansible-playbook', '-i', inventory, playbook, '--limit', limit, '-e', json.dumps(extra_vars)] + list(extra)
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300, env=env)
    result.output = result.stdout + result.stderr
    return result


@pytest.mark.parametrize('host_name', ['onprem-gpu-bookworm'])
def test_gpu_steps_are_skipped_with_a_reason(host, host_name):
    if _name(host) != host_name:
        pytest.skip('run once, against ' + host_name)
    result = _playbook('converge.yml', {}, host_name,
                       ['--check', '--tags', 'nvidia_driver_assert,nvidia_driver_validate,cuda_assert,cuda_validate'])
    assert result.returncode == 0, result.output
    assert 'nvidia_driver: kernel modules skipped (nvidia_driver_kernel_modules is false)' in result.output
    assert 'nvidia_driver: validation skipped: no NVIDIA GPU on the PCI bus' in result.output
    assert 'nvidia-smi: nvidia-smi failed' in result.output
    assert 'cuda: validation skipped: no NVIDIA GPU on the PCI bus' in result.output
    assert 'cuda: driver 535.' in result.output


@pytest.mark.parametrize('host_name', ['onprem-gpu-trixie'])
def test_bad_source_fails_naming_variable_and_choices(host, host_name):
    if _name(host) != host_name:
        pytest.skip('run once, against ' + host_name)
    result = _playbook('negative.yml', {'gpu_stack_role': 'nvidia_driver', 'nvidia_driver_source': 'internet'}, host_name)
    assert result.returncode != 0
    assert 'nvidia_driver_source' in result.output
    assert 'distribution, nvidia, mirror' in result.output


@pytest.mark.parametrize('host_name', ['onprem-gpu-bookworm'])
def test_cuda_newer_than_driver_fails_before_any_change(host, host_name):
    if _name(host) != host_name:
        pytest.skip('run once, against ' + host_name)
    before = host.file('/etc/apt/preferences.d/onprem-cuda.pref').sha256sum
    result = _playbook('negative.yml', {'gpu_stack_role': 'cuda', 'cuda_version': '13.0',
                                        'cuda_toolkit_packages': ['libcudart12']}, host_name)
    assert result.returncode != 0
    assert 'cuda: CUDA 13.0 needs a newer driver than \'535.' in result.output
    assert host.file('/etc/apt/preferences.d/onprem-cuda.pref').sha256sum == before


@pytest.mark.parametrize('host_name', ['onprem-gpu-trixie'])
def test_container_toolkit_from_debian_says_it_is_not_packaged(host, host_name):
    if _name(host) != host_name:
        pytest.skip('run once, against ' + host_name)
    result = _playbook('negative.yml', {'gpu_stack_role': 'container_toolkit', 'container_toolkit_source': 'distribution'},
                       host_name)
    assert result.returncode != 0
    assert 'container_toolkit_source is distribution, but Debian does not package nvidia-container-toolkit' in result.output
    assert not host.file('/etc/cdi/nvidia.yaml').exists
