"""The appliance image boots in QEMU (TCG) with no network device: BIOS first boot, a second boot, UEFI first boot.

Each boot runs on a qcow2 overlay of the built image with a 4 GiB virtual disk (the image is about 1.5 GiB: the first
boot must grow the root partition, the disk's last, to the disk). What the machine says is read from its serial
console: the first-boot unit's lines and the boot report line every boot prints (files/appliance-report).
"""

import json
import os
import re
import socket
import subprocess
import time

import pytest

# The image is built once for the machine (molecule.yml's ONPREM_APPLIANCE_LAB); each checkout boots overlays of its own.
LAB = os.environ.get('ONPREM_APPLIANCE_LAB') or os.path.expanduser('~/.cache/onprem-deepseek/appliance-lab')
IMAGE = os.path.join(LAB, 'lab', 'onprem-deepseek-appliance.qcow2')
RUN = os.path.join(os.environ.get('MOLECULE_PROJECT_DIRECTORY', os.getcwd()), '.cache', 'appliance', 'run')
OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd'
OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd'
UP = re.compile(r'onprem-deepseek appliance: up; root (\S+) (\S+); data (\S+) (.*?); first boot record (.*)$', re.M)
BOOT_TIMEOUT = 420
PANIC = 'Kernel panic - not syncing'


class Panicked(Exception):
    """The guest's kernel panicked during the boot (its console's tail is the message)."""


class Machine:
    """One QEMU process on an overlay; its serial console in <name>.log."""

    def __init__(self, name, uefi=False):
        self.name, self.uefi = name, uefi
        self.overlay = os.path.join(RUN, name + '.qcow2')
        self.monitor = os.path.join(RUN, name + '.mon')
        self.pidfile = os.path.join(RUN, name + '.pid')
        self.vars = os.path.join(RUN, name + '.vars.fd')

    def create(self):
        os.makedirs(RUN, exist_ok=True)
        for path in (self.overlay, self.vars):
            if os.path.exists(path):
                os.unlink(path)
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', IMAGE, self.overlay, '4G'], check=True)
        if self.uefi:
            with open(OVMF_VARS, 'rb') as src, open(self.vars, 'wb') as dst:
                dst.write(src.read())

    def boot(self, log_name):
        """Start the machine; return the path of this boot's console log."""
        log = os.path.join(RUN, log_name)
        if os.path.exists(log):
            os.unlink(log)
        argv = ['qemu-system-x86_64', '-accel', 'tcg,thread=multi', '-cpu', 'max', '-smp', '2', '-m', '1536',
                '-drive', 'file=%s,if=virtio,format=qcow2,cache=unsafe' % self.overlay,
                '-nic', 'none', '-display', 'none', '-serial', 'file:' + log,
                '-monitor', 'unix:%s,server,nowait' % self.monitor, '-pidfile', self.pidfile, '-daemonize']
        if self.uefi:
            argv[1:1] = ['-machine', 'q35',
                         '-drive', 'if=pflash,format=raw,readonly=on,file=' + OVMF_CODE,
                         '-drive', 'if=pflash,format=raw,file=' + self.vars]
        subprocess.run(argv, check=True)
        return log

    def wait_up(self, log, timeout=BOOT_TIMEOUT):
        """The boot report line's fields, once the console shows it; fails with the console's tail after timeout.
        Raises Panicked at once when the guest's kernel panics (it would hang there until the timeout)."""
        deadline = time.time() + timeout
        text = ''
        while time.time() < deadline:
            with open(log, 'rb') as handle:
                text = handle.read().decode('utf-8', 'replace')
            match = UP.search(text)
            if match:
                return text, match
            if PANIC in text:
                raise Panicked(text[-6000:])
            assert self.running(), 'QEMU exited during boot:\n' + text[-3000:]
            time.sleep(3)
        pytest.fail('no boot report on the console within %d s:\n%s' % (timeout, text[-3000:]))

    def boot_up(self, log_name, first):
        """boot and wait_up, with one more try when the guest's kernel panicked: CI's UEFI boot once panicked 3 s in
        ("Fatal exception in interrupt", TCG, 2026-12-06; the same image booted in every run here). The panic is
        printed; a first boot starts again from a new overlay, a later boot from the disk as it was. Returns the
        console log's path, its text and the boot report's fields."""
        for attempt in (1, 2):
            log = self.boot(log_name if attempt == 1 else log_name + '.retry')
            try:
                return (log,) + self.wait_up(log)
            except Panicked as panic:
                print('%s: the guest kernel panicked (try %d of 2):\n%s' % (self.name, attempt, panic))
                self.kill()
                if attempt == 2:
                    pytest.fail('%s: the guest kernel panicked in both tries' % self.name)
                if first:
                    self.create()
        raise AssertionError('not reached')

    def kill(self):
        if self.running():
            os.kill(self.pid(), 9)
            deadline = time.time() + 30
            while self.running() and time.time() < deadline:
                time.sleep(1)

    def pid(self):
        with open(self.pidfile, encoding='ascii') as handle:
            return int(handle.read().strip())

    def running(self):
        try:
            os.kill(self.pid(), 0)
            return True
        except (OSError, ValueError):
            return False

    def power_off(self, timeout=180):
        """ACPI power button (systemd shuts down cleanly), pressed again every 10 s: a press before systemd-logind
        watches the button (right after the boot report) is lost. SIGKILL and a failure if it did not stop."""
        deadline = time.time() + timeout
        while self.running() and time.time() < deadline:
            try:
                sock = socket.socket(socket.AF_UNIX)
                sock.connect(self.monitor)
                sock.recv(4096)
                sock.sendall(b'system_powerdown\n')
                time.sleep(1)
                sock.close()
            except OSError:
                pass
            for dummy in range(5):
                if not self.running():
                    break
                time.sleep(2)
        if self.running():
            self.kill()
            pytest.fail('%s did not power off within %d s' % (self.name, timeout))


@pytest.fixture(scope='module')
def bios():
    machine = Machine('bios')
    machine.create()
    yield machine
    machine.power_off()


def _mib(size):
    """lsblk/findmnt sizes (1.1G, 3.7G, 980M) in MiB."""
    number, unit = float(size[:-1]), size[-1]
    return number * {'K': 1 / 1024, 'M': 1, 'G': 1024, 'T': 1024 * 1024}[unit]


def test_the_image_and_its_record():
    with open(os.path.join(LAB, 'lab', 'build.json'), encoding='utf-8') as handle:
        record = json.load(handle)
    assert record['suite'] == 'trixie' and 'linux-image-amd64' in record['packages']
    sums = subprocess.run(['sha256sum', '--check', 'onprem-deepseek-appliance.raw.sha256', 'onprem-deepseek-appliance.qcow2.sha256'],
                          cwd=os.path.join(LAB, 'lab'), capture_output=True, text=True, check=False)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    table = subprocess.run(['sfdisk', '--json', os.path.join(LAB, 'lab', 'onprem-deepseek-appliance.raw')],
                           capture_output=True, text=True, check=True)
    parts = json.loads(table.stdout)['partitiontable']
    assert parts['label'] == 'gpt'
    assert [p.get('name') for p in parts['partitions']] == ['bios', 'esp', 'onprem-data', 'onprem-root']
    assert [p['type'] for p in parts['partitions']][:2] == ['21686148-6449-6E6F-744E-656564454649', 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B']


def test_bios_first_boot_grows_root_mounts_data_and_makes_its_own_machine_id(bios):
    dummy, text, up = bios.boot_up('bios-1.log', first=True)
    assert 'Initializing machine ID from random generator' in text   # the image carries none
    grown = re.search(r'root file system on /dev/vda4: (\d+) MiB -> (\d+) MiB', text)
    assert grown, text[-3000:]
    assert int(grown.group(2)) > 3 * 1024 > int(grown.group(1))
    assert up.group(1) == '/dev/vda4' and _mib(up.group(2)) > 3 * 1024
    assert up.group(3) == '/srv/deepseek' and up.group(4).startswith('/dev/vda3 ext4'), up.group(0)
    record = json.loads(up.group(5))
    assert record['root_mib'] == int(grown.group(2))
    bios.first_record = record


def test_second_boot_runs_nothing_again(bios):
    first = getattr(bios, 'first_record', None)
    assert first, 'the first boot test did not run'
    bios.power_off()
    dummy, text, up = bios.boot_up('bios-2.log', first=False)
    assert 'first boot done' not in text and 'growpart' not in text
    assert json.loads(up.group(5)) == first    # the record of the first boot, unchanged
    # The data partition is mounted before the report (fstab's nofail: local-fs.target alone does not wait for it).
    assert up.group(3) == '/srv/deepseek' and up.group(4).startswith('/dev/vda3 ext4'), up.group(0)
    bios.power_off()


def test_uefi_first_boot():
    machine = Machine('uefi', uefi=True)
    machine.create()
    try:
        dummy, text, up = machine.boot_up('uefi-1.log', first=True)
        assert 'efi: EFI v' in text               # the kernel was started by UEFI firmware (OVMF), through GRUB's BOOTX64.EFI
        assert 'first boot done' in text and _mib(up.group(2)) > 3 * 1024
    finally:
        machine.power_off()
