"""Verify os_tuning inside the VM lab guest, after the reboot the role requested."""

import pytest

HUGEPAGES = 64  # 128MiB (deepseek_hugepages_size in converge.yml) / 2 MiB pages, from the preflight plan
SYSCTL_FILE = "/etc/sysctl.d/90-onprem-deepseek.conf"
# nvidia_driver owns the nouveau blacklist (converge runs its blacklist_nouveau entry point before os_tuning reboots).
MODPROBE_FILE = "/etc/modprobe.d/onprem-nvidia-nouveau.conf"
LEGACY_MODPROBE_FILE = "/etc/modprobe.d/onprem-deepseek-blacklist-nouveau.conf"


@pytest.fixture(autouse=True)
def _only_the_tuned_vm(host):
    # converge runs os_tuning on os-tuning-vm only; fabric-vm-b is the fabric peer (test_fabric.py).
    if host.backend.get_hostname() != "os-tuning-vm":
        pytest.skip("os_tuning runs on os-tuning-vm only")


def test_kernel_cmdline_has_thp_never(host):
    assert "transparent_hugepage=never" in host.file("/proc/cmdline").content_string.split()


def test_grub_dropin_written_and_applied(host):
    dropin = host.file("/etc/default/grub.d/onprem-deepseek.cfg")
    assert dropin.exists
    assert "transparent_hugepage=never" in dropin.content_string
    assert "transparent_hugepage=never" in host.file("/boot/grub/grub.cfg").content_string


@pytest.mark.parametrize("knob", ["enabled", "defrag"])
def test_thp_never_at_runtime(host, knob):
    assert "[never]" in host.file(f"/sys/kernel/mm/transparent_hugepage/{knob}").content_string


def test_thp_unit_enabled(host):
    assert host.service("onprem-deepseek-thp.service").is_enabled


def test_hugepages_reserved(host):
    assert host.sysctl("vm.nr_hugepages") == HUGEPAGES
    meminfo = host.file("/proc/meminfo").content_string
    assert f"HugePages_Total:      {HUGEPAGES}" in meminfo


def test_swappiness(host):
    assert host.sysctl("vm.swappiness") == 1


def test_numa_balancing_off_when_present(host):
    if not host.file("/proc/sys/kernel/numa_balancing").exists:
        pytest.skip("kernel without NUMA balancing")
    assert host.sysctl("kernel.numa_balancing") == 0


def test_sysctl_values_persisted(host):
    content = host.file(SYSCTL_FILE).content_string
    assert "vm.swappiness=1" in content
    assert f"vm.nr_hugepages={HUGEPAGES}" in content


def test_nouveau_blacklisted(host):
    assert "blacklist nouveau" in host.file(MODPROBE_FILE).content_string
    showconfig = host.check_output("modprobe --showconfig")
    assert "blacklist nouveau" in showconfig.splitlines()


def test_nouveau_blacklisted_once(host):
    # One owner: os_tuning writes no second copy (and removes the one earlier releases wrote).
    assert not host.file(LEGACY_MODPROBE_FILE).exists
    showconfig = host.check_output("modprobe --showconfig")
    assert showconfig.splitlines().count("blacklist nouveau") == 1


def test_nouveau_blacklist_in_initramfs(host):
    kernel = host.check_output("uname -r")
    listing = host.check_output(f"lsinitramfs /boot/initrd.img-{kernel}")
    assert MODPROBE_FILE.lstrip("/") in listing.splitlines()


def test_memlock_unlimited_for_service_user(host):
    out = host.check_output("su - deepseek -s /bin/bash -c 'ulimit -l'")
    assert out.strip() == "unlimited"


def test_memlock_unlimited_for_services(host):
    out = host.check_output("systemctl show --property=DefaultLimitMEMLOCK")
    assert out.strip() == "DefaultLimitMEMLOCK=infinity"


def test_no_cpufreq_in_vm_means_no_governor_unit(host):
    # QEMU TCG guests have no cpufreq driver: the role must skip the governor, not fail.
    if host.file("/sys/devices/system/cpu/cpu0/cpufreq").exists:
        pytest.skip("guest has cpufreq")
    assert not host.file("/etc/systemd/system/onprem-deepseek-cpufreq.service").exists
