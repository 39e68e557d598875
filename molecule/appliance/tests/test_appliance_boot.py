"""The appliance image boots in QEMU (TCG) and serves from its first boot, offline.

The lab image carries the serving stack (molecule/appliance/converge.yml): the offline bundle of the lab's deployment
(llama.cpp, the tiny model) on the data partition, its packages and engine image installed. Each machine runs on a
qcow2 overlay of it with an 8 GiB virtual disk (the first boot must grow the root partition, the disk's last) and one
network device only: QEMU's user network with restrict=on (no route out of the guest, to the host or anywhere) and
one host-forwarded port to the gateway's 443. What the machine says is read from its serial console: the first-boot
unit's lines and the boot report line every boot prints (files/appliance-report).

Each machine has a TPM 2.0 of its own (swtpm, its state in the run folder, kept across its boots): the lab's inventory
encrypts the data partition in place at the first boot and binds it to that TPM (files/site-vars.yml).

BIOS first boot: root grown, data mounted, its own machine ID, the passphrase made and escrowed to the lab's recovery
certificate, the data partition encrypted in place by the site run from the bundle, then a chat completion over TLS 1.3
through the forwarded port with the lab's key (the image holds only its SHA-256). Powered off, the data partition is
opened off the machine with the escrowed recovery key: the model store's files are the image's, where they were. Power off, then the second
boot, under UEFI (OVMF) with Secure Boot enforced (Microsoft's keys enrolled) from the same disk: shim, GRUB and the
kernel pass their signature checks, the TPM unlocks the data partition, nothing runs again, and it serves again. The times go to
.cache/appliance/run/appliance-report.json.
"""

import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# The image is built once for the machine (molecule.yml's ONPREM_APPLIANCE_LAB); each checkout boots overlays of its own.
LAB = os.environ.get('ONPREM_APPLIANCE_LAB') or os.path.expanduser('~/.cache/onprem-deepseek/appliance-lab')
IMAGE = os.path.join(LAB, 'lab', 'onprem-deepseek-appliance.qcow2')
RUN = os.path.join(os.environ.get('MOLECULE_PROJECT_DIRECTORY', os.getcwd()), '.cache', 'appliance', 'run')
OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd'
OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd'
# Secure Boot (Debian's ovmf): firmware that enforces it (SMM, q35) and variables with Microsoft's keys enrolled and
# Secure Boot on, as a PC ships.
OVMF_CODE_SECBOOT = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd'
OVMF_VARS_MS = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd'
UP = re.compile(r'onprem-deepseek appliance: up; root (\S+) (\S+); data (\S+) (.*?); firmware (.*?); first boot record (.*)$', re.M)
# The first boot runs site.yml inside the guest (TCG: minutes); later boots only start the units.
BOOT_TIMEOUT = 420
FIRST_BOOT_TIMEOUT = 1200
PANIC = 'Kernel panic - not syncing'
# The lab's API key (molecule/appliance/files/site-vars.yml has its SHA-256 only).
LAB_KEY = 'lab-appliance-0123456789abcdef01234567'
LAB_KEY_SHA256 = 'a35e73bc173f6439571536d76bb88c80562ad263c9972aa9b11173f5511f77b8'
REPORT = os.path.join(RUN, 'appliance-report.json')
# The lab's recovery key pair (converge.yml): the image has the certificate, the test opens the escrow with the key.
RECOVERY_KEY = os.path.join(LAB, 'recovery.key')
ESCROW = re.compile(r'-----BEGIN CMS-----.*?-----END CMS-----', re.S)
# The journal's prefix of a unit's line on the console: "[   25.62] appliance-firstboot[558]: ".
CONSOLE_PREFIX = re.compile(r'^\[ *[0-9.]+\] [^:]+: ')


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Panicked(Exception):
    """The guest's kernel panicked during the boot (its console's tail is the message)."""


class Machine:
    """One QEMU process on an overlay; its serial console in <name>.log."""

    def __init__(self, name, uefi=False):
        self.name, self.uefi, self.secure_boot = name, uefi, False
        self.port = _free_port()
        self.overlay = os.path.join(RUN, name + '.qcow2')
        self.monitor = os.path.join(RUN, name + '.mon')
        self.pidfile = os.path.join(RUN, name + '.pid')
        self.vars = os.path.join(RUN, name + '.vars.fd')
        self.tpm_state = os.path.join(RUN, name + '.tpm')
        self.tpm_socket = os.path.join(RUN, name + '.swtpm.sock')

    def create(self):
        os.makedirs(RUN, exist_ok=True)
        for path in (self.overlay, self.vars):
            if os.path.exists(path):
                os.unlink(path)
        shutil.rmtree(self.tpm_state, ignore_errors=True)
        os.makedirs(self.tpm_state)
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', IMAGE, self.overlay, '8G'], check=True)

    def firmware_vars(self):
        """The machine's UEFI variables, made once: Microsoft's keys enrolled (Secure Boot on) or none."""
        if not os.path.exists(self.vars):
            with open(OVMF_VARS_MS if self.secure_boot else OVMF_VARS, 'rb') as src, open(self.vars, 'wb') as dst:
                dst.write(src.read())
        return self.vars

    def boot(self, log_name):
        """Start the machine; return the path of this boot's console log."""
        log = os.path.join(RUN, log_name)
        if os.path.exists(log):
            os.unlink(log)
        # The machine's TPM 2.0: a swtpm for this boot (it ends when QEMU lets go of it), its state kept across boots.
        if os.path.exists(self.tpm_socket):
            os.unlink(self.tpm_socket)
        subprocess.run(['swtpm', 'socket', '--tpm2', '--tpmstate', 'dir=' + self.tpm_state, '--ctrl',
                        'type=unixio,path=' + self.tpm_socket, '--terminate', '--daemon',
                        '--log', 'file=%s,level=1' % os.path.join(RUN, self.name + '.swtpm.log')], check=True)
        # The guest's CPU without ERMS/FSRM: under TCG `rep stosb` moves a byte a step (docs/vm-lab.md).
        argv = ['qemu-system-x86_64', '-accel', 'tcg,thread=multi', '-cpu', 'max,-erms,-fsrm', '-smp', '2', '-m', '3072',
                '-drive', 'file=%s,if=virtio,format=qcow2,cache=unsafe' % self.overlay,
                '-nic', 'user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:%d-:443' % self.port,
                '-display', 'none', '-serial', 'file:' + log,
                '-chardev', 'socket,id=chrtpm,path=' + self.tpm_socket, '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm',
                '-device', 'tpm-tis,tpmdev=tpm0',
                '-monitor', 'unix:%s,server,nowait' % self.monitor, '-pidfile', self.pidfile, '-daemonize']
        if self.uefi and self.secure_boot:
            argv[1:1] = ['-machine', 'q35,smm=on', '-global', 'driver=cfi.pflash01,property=secure,value=on',
                         '-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=' + OVMF_CODE_SECBOOT,
                         '-drive', 'if=pflash,format=raw,unit=1,file=' + self.firmware_vars()]
        elif self.uefi:
            argv[1:1] = ['-machine', 'q35',
                         '-drive', 'if=pflash,format=raw,readonly=on,file=' + OVMF_CODE,
                         '-drive', 'if=pflash,format=raw,file=' + self.firmware_vars()]
        subprocess.run(argv, check=True)
        return log

    def wait_up(self, log, timeout):
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
                return (log,) + self.wait_up(log, FIRST_BOOT_TIMEOUT if first else BOOT_TIMEOUT)
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
def machine():
    """One machine: BIOS first boot, then its second boot under UEFI from the same disk."""
    box = Machine('appliance')
    box.create()
    yield box
    box.power_off()


def _mib(size):
    """lsblk/findmnt sizes (1.1G, 3.7G, 980M) in MiB."""
    number, unit = float(size[:-1]), size[-1]
    return number * {'K': 1 / 1024, 'M': 1, 'G': 1024, 'T': 1024 * 1024}[unit]


def _luks_open_offline(part, passphrase):
    """The file system inside a copy of a LUKS2 partition, written over it, with the passphrase: cryptsetup reads the
    volume key from the header (no device-mapper: this machine's kernel has none), then AES-XTS (aes-xts-plain64, 512-byte
    sectors, the sector number as the tweak) decrypts the data segment. Returns the header's metadata."""
    meta = json.loads(subprocess.run(['cryptsetup', 'luksDump', '--dump-json-metadata', part],
                                     capture_output=True, text=True, check=True).stdout)
    segment = meta['segments']['0']
    assert segment['encryption'] == 'aes-xts-plain64' and segment['sector_size'] == 512, segment
    dump = subprocess.run(['cryptsetup', 'luksDump', '--dump-volume-key', '--batch-mode', '--key-file=-', part],
                          input=passphrase.encode(), capture_output=True, check=True).stdout.decode()
    # "MK dump:\t7b af ...", then more lines of hex bytes.
    key = bytes.fromhex(''.join(re.findall(r'\b[0-9a-f]{2}\b', dump.split('MK dump:')[1])))
    assert len(key) == 64, len(key)
    meta['label'] = subprocess.run(['blkid', '-p', '-o', 'value', '-s', 'LABEL', part], capture_output=True, text=True, check=True).stdout.strip()
    offset, sector = int(segment['offset']), int(segment.get('iv_tweak', '0'))
    plain = part + '.plain'
    with open(part, 'rb') as src, open(plain, 'wb') as dst:
        src.seek(offset)
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            for at in range(0, len(chunk), 512):
                decryptor = Cipher(algorithms.AES(key), modes.XTS(sector.to_bytes(16, 'little'))).decryptor()
                dst.write(decryptor.update(chunk[at:at + 512]) + decryptor.finalize())
                sector += 1
    os.replace(plain, part)
    return meta


def _data_partition_listing(disk, fmt, name, directories=('/models', '/models/tiny-llama-v1'), passphrase=None):
    """`debugfs ls -l` of directories on a disk's data partition: {directory: {name: inode}}, and the LUKS2 header's
    metadata when it is encrypted (opened with `passphrase`, else {}). The partition is copied out with qemu-img dd (the
    disk may be a qcow2 overlay) and read with debugfs: nothing is mounted."""
    table = subprocess.run(['sfdisk', '--json', os.path.join(LAB, 'lab', 'onprem-deepseek-appliance.raw')],
                           capture_output=True, text=True, check=True)
    data = [p for p in json.loads(table.stdout)['partitiontable']['partitions'] if p.get('name') == 'onprem-data'][0]
    part = os.path.join(RUN, name)
    if os.path.exists(part):
        os.unlink(part)
    # Partitions start and end on whole MiB (files/appliance-disk): 2048 sectors of 512 bytes.
    subprocess.run(['qemu-img', 'dd', '-f', fmt, '-O', 'raw', 'bs=1M', 'skip=%d' % (data['start'] // 2048),
                    'count=%d' % (data['size'] // 2048), 'if=' + disk, 'of=' + part], check=True)
    meta = _luks_open_offline(part, passphrase) if passphrase is not None else {}
    # The file system's size (the in-place encryption shrank it by the LUKS2 header's room).
    header = subprocess.run(['dumpe2fs', '-h', part], capture_output=True, text=True, check=True).stdout
    meta['fs_bytes'] = int(re.search(r'^Block count:\s+(\d+)', header, re.M).group(1)) * int(re.search(r'^Block size:\s+(\d+)', header, re.M).group(1))
    found = {}
    for directory in directories:
        listing = subprocess.run(['debugfs', '-R', 'ls -l ' + directory, part], capture_output=True, text=True, check=True)
        # "  12   100644 (1)      0      0  486688 6-Dec-2026 11:20 tiny.gguf"
        found[directory] = dict((line.split()[-1], int(line.split()[0])) for line in listing.stdout.splitlines() if line.strip())
    os.unlink(part)
    return found, meta


def _complete(port, timeout=60):
    """A chat completion through the gateway on the forwarded port, over TLS 1.3 only, with the lab's key. The
    certificate is the machine's own, made at its first boot (a CA of its own): not checked here, TLS 1.3 is."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    conn = http.client.HTTPSConnection('127.0.0.1', port, context=context, timeout=timeout)
    try:
        conn.request('POST', '/v1/chat/completions', headers={'Authorization': 'Bearer ' + LAB_KEY, 'Content-Type': 'application/json'},
                     body=json.dumps({'model': 'deepseek-tiny', 'messages': [{'role': 'user', 'content': 'Say hello.'}], 'max_tokens': 8}))
        response = conn.getresponse()
        body = response.read()
        return response.status, conn.sock.version() if conn.sock else None, body
    finally:
        conn.close()


def _report(**fields):
    report = {}
    if os.path.exists(REPORT):
        with open(REPORT, encoding='utf-8') as handle:
            report = json.load(handle)
    report.update(fields)
    with open(REPORT, 'w', encoding='utf-8') as handle:
        json.dump(report, handle, indent=1)
    print('appliance report: ' + json.dumps(report))


def test_the_image_and_its_record():
    with open(os.path.join(LAB, 'lab', 'build.json'), encoding='utf-8') as handle:
        record = json.load(handle)
    assert record['suite'] == 'trixie' and 'linux-image-amd64' in record['packages']
    # The serving stack: the bundle's packages, Debian's Ansible, the engine image; the key's SHA-256 is the lab's.
    assert {'podman', 'nginx', 'ansible-core'} <= set(record['packages'])
    assert record['site']['images'] == ['localhost/onprem-deepseek/llama-cpp']
    assert hashlib.sha256(LAB_KEY.encode()).hexdigest() == LAB_KEY_SHA256
    os.makedirs(RUN, exist_ok=True)
    if os.path.exists(REPORT):
        os.unlink(REPORT)
    _report(build_seconds=record['build_seconds'], built=record['built'],
            raw_bytes=record['files'][0][2], qcow2_bytes=record['files'][1][2])
    sums = subprocess.run(['sha256sum', '--check', 'onprem-deepseek-appliance.raw.sha256', 'onprem-deepseek-appliance.qcow2.sha256',
                           'onprem-deepseek-appliance.bmap.sha256'],
                          cwd=os.path.join(LAB, 'lab'), capture_output=True, text=True, check=False)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    raw = os.path.join(LAB, 'lab', 'onprem-deepseek-appliance.raw')
    table = subprocess.run(['sfdisk', '--json', raw], capture_output=True, text=True, check=True)
    # The block map: the whole image's size, fewer blocks mapped than it has (the file systems' free room is holes);
    # `bmaptool copy` writes the mapped ones onto a file as it would onto a disk, checking each range's SHA-256.
    with open(os.path.join(LAB, 'lab', 'onprem-deepseek-appliance.bmap'), encoding='utf-8') as handle:
        bmap = handle.read()
    field = dict((name, int(re.search(r'<%s> *(\d+) *</%s>' % (name, name), bmap).group(1)))
                 for name in ('ImageSize', 'BlockSize', 'BlocksCount', 'MappedBlocksCount'))
    assert field['ImageSize'] == os.path.getsize(raw) == field['BlocksCount'] * field['BlockSize'], field
    assert 0 < field['MappedBlocksCount'] < field['BlocksCount'], field
    _report(bmap_mapped_bytes=field['MappedBlocksCount'] * field['BlockSize'])
    copy = os.path.join(RUN, 'bmap-copy.img')
    try:
        copied = subprocess.run(['bmaptool', 'copy', raw, copy], capture_output=True, text=True, check=False)
        assert copied.returncode == 0, copied.stdout + copied.stderr
        assert os.path.getsize(copy) == os.path.getsize(raw)
        assert json.loads(subprocess.run(['sfdisk', '--json', copy], capture_output=True, text=True, check=True).stdout) \
            == json.loads(table.stdout.replace(raw, copy))
    finally:
        if os.path.exists(copy):
            os.unlink(copy)
    parts = json.loads(table.stdout)['partitiontable']
    assert parts['label'] == 'gpt'
    assert [p.get('name') for p in parts['partitions']] == ['bios', 'esp', 'onprem-data', 'onprem-root']
    assert [p['type'] for p in parts['partitions']][:2] == ['21686148-6449-6E6F-744E-656564454649', 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B']


def test_bios_first_boot_serves_over_tls13_from_the_bundle(machine):
    started = time.time()
    dummy, text, up = machine.boot_up('bios-1.log', first=True)
    assert 'Initializing machine ID from random generator' in text   # the image carries none
    grown = re.search(r'root file system on /dev/vda4: (\d+) MiB -> (\d+) MiB', text)
    assert grown, text[-3000:]
    assert int(grown.group(2)) > 7 * 1024 > int(grown.group(1))
    assert up.group(1) == '/dev/vda4' and _mib(up.group(2)) > 7 * 1024
    # The data partition, encrypted in place by the site run, mounted from its LUKS2 volume.
    assert up.group(3) == '/srv/deepseek' and up.group(4).startswith('/dev/mapper/data ext4'), up.group(0)
    escrow = ESCROW.search(text)
    assert escrow, 'no escrowed recovery key on the console:\n' + text[-6000:]
    # Printed on the console as it is in the file: no journal prefix to strip before it opens.
    pem = '\n'.join(line.rstrip('\r') for line in escrow.group(0).splitlines()) + '\n'
    assert not any(CONSOLE_PREFIX.match(line) for line in pem.splitlines()), escrow.group(0)
    opened = subprocess.run(['openssl', 'cms', '-decrypt', '-binary', '-inform', 'PEM', '-inkey', RECOVERY_KEY],
                            input=pem.encode(), capture_output=True, check=True)
    passphrase = opened.stdout.decode()
    assert len(passphrase) == 40 and passphrase not in text, 'the passphrase is not a fresh secret kept off the console'
    assert "the first boot's passphrase file is removed" in text, text[-6000:]
    done = re.search(r'\[ *([0-9.]+)\] .*site run done in (\d+) s: serving', text)
    assert done, 'the first boot did not serve:\n' + text[-6000:]
    assert up.group(5) == 'bios', up.group(0)
    record = json.loads(up.group(6))
    assert record['root_mib'] == int(grown.group(2))
    status, version, body = _complete(machine.port)
    assert status == 200 and version == 'TLSv1.3', (status, version, body[:300])
    answer = json.loads(body)
    assert answer['choices'][0]['message']['content'] and answer['usage']['completion_tokens'] > 0
    _report(first_boot_to_serving_seconds=round(float(done.group(1))), first_boot_site_run_seconds=int(done.group(2)),
            first_boot_wall_seconds=round(time.time() - started))
    machine.first_record = record
    machine.passphrase = passphrase


def test_second_boot_under_uefi_with_secure_boot_runs_nothing_again_and_serves(machine):
    first = getattr(machine, 'first_record', None)
    assert first, 'the first boot test did not run'
    machine.power_off()
    # The model store adopted the bundle's model where it is on the data partition: the same file (its inode as built),
    # the store's record beside it, and no staging copy (a copy would have taken the weights' space twice).
    built, plain = _data_partition_listing(os.path.join(LAB, 'lab', 'onprem-deepseek-appliance.raw'), 'raw', 'data-built.img')
    # Encrypted in place (LUKS2, the role's label, the passphrase's slot and the TPM's Clevis slot), its files kept: the
    # machine's escrowed recovery key opens it here, without the machine's TPM.
    booted, luks = _data_partition_listing(machine.overlay, 'qcow2', 'data-booted.img', passphrase=machine.passphrase)
    assert luks['label'] == 'onprem-deepseek-data', luks
    assert len(luks['keyslots']) == 2 and [t['type'] for t in luks['tokens'].values()] == ['clevis'], luks
    assert 'requirements' not in luks['config'], luks   # no reencryption left unfinished
    assert luks['fs_bytes'] == plain['fs_bytes'] - 32 * 1048576, (plain['fs_bytes'], luks['fs_bytes'])   # shrunk for the header
    model = '/models/tiny-llama-v1'
    assert booted[model]['tiny.gguf'] == built[model]['tiny.gguf'], (built, booted)
    version = os.path.basename(model)
    assert booted['/models'][version] == built['/models'][version], (built, booted)
    assert '.onprem-deepseek-verified' in booted[model] and '.onprem-deepseek-verified' not in built[model], (built, booted)
    assert '.staging' not in booted['/models'], booted
    machine.uefi = machine.secure_boot = True
    started = time.time()
    dummy, text, up = machine.boot_up('uefi-2.log', first=False)
    assert 'efi: EFI v' in text               # the kernel was started by UEFI firmware (OVMF), through BOOTX64.EFI
    # Secure Boot enforced by the firmware with Microsoft's keys: the signed shim, the signed GRUB and the signed kernel
    # were each accepted (an unsigned link stops the boot there), and the kernel says so and locks itself down.
    assert 'Secure boot enabled' in text, text[-6000:]
    assert up.group(5) == 'uefi, secure boot on', up.group(0)
    assert 'first boot done' not in text and 'growpart' not in text and 'site run' not in text
    assert json.loads(up.group(6)) == first    # the record of the first boot, unchanged
    # The data partition is unlocked by the TPM (Clevis answers systemd-cryptsetup) and mounted before the report
    # (fstab's nofail: local-fs.target alone does not wait for it).
    assert up.group(3) == '/srv/deepseek' and up.group(4).startswith('/dev/mapper/data ext4'), up.group(0)
    # The engine and the gateway start at boot: wait for them, then the same completion.
    deadline, result = time.time() + BOOT_TIMEOUT, None
    while time.time() < deadline:
        try:
            result = _complete(machine.port, timeout=30)
            if result[0] == 200:
                break
        except (OSError, http.client.HTTPException) as error:
            result = (None, None, repr(error).encode())
        time.sleep(5)
    assert result and result[0] == 200 and result[1] == 'TLSv1.3', result
    _report(second_boot_to_serving_seconds=round(time.time() - started))
