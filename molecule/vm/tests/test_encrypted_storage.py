"""Verify encrypted_storage's LUKS2 volume on os-tuning-vm (after the reboot: unlocked by Clevis + Tang on fabric-vm-b)."""

import glob
import json
import os
import re
import stat
import subprocess

import pytest

PASSPHRASE = "lab-luks-passphrase-0001"          # molecule.yml host_vars (a site's vault)
NEW_PASSPHRASE = "lab-luks-passphrase-0002"
BACKUP_PASSPHRASE = "lab-header-backup-0001"


@pytest.fixture(autouse=True)
def _only_the_volume_vm(host):
    if host.backend.get_hostname() != "os-tuning-vm":
        pytest.skip("the encrypted volume is on os-tuning-vm")


def _playbook(name, *extra):
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], name)]
    result = subprocess.run(cmd + list(extra), capture_output=True, text=True, check=False, timeout=900,
                            env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"))
    result.output = result.stdout + result.stderr
    return result


def test_volume_unlocked_by_tang_and_mounted_after_the_reboot(host):
    # os_tuning rebooted the VM after this role ran: no keyfile, so Clevis + Tang unlocked it at boot.
    assert "transparent_hugepage=never" in host.file("/proc/cmdline").content_string
    assert host.check_output("findmnt -no SOURCE /srv/deepseek") == "/dev/mapper/models"
    assert not host.file("/etc/cryptsetup-keys.d/models.key").exists
    assert "tang" in host.check_output("clevis luks list -d /dev/vdb")


def test_luks2_with_the_required_cipher_and_kdf(host):
    dump = host.check_output("cryptsetup luksDump /dev/vdb")
    assert re.search(r"^Version:\s+2$", dump, re.M)
    assert re.search(r"cipher:\s+aes-xts-plain64", dump)
    assert re.search(r"Cipher key:\s+512 bits", dump)
    assert re.search(r"PBKDF:\s+argon2id", dump)
    assert re.search(r"Label:\s+onprem-deepseek-models", dump)


def test_crypttab_fstab_and_record(host):
    crypttab = host.file("/etc/crypttab").content_string
    assert "models" in crypttab and "_netdev" in crypttab
    fstab = host.file("/etc/fstab").content_string
    assert "/dev/mapper/models /srv/deepseek" in fstab and "nofail" in fstab
    record = host.file("/etc/onprem-deepseek/luks-models.json")
    assert record.mode == 0o600
    assert PASSPHRASE not in record.content_string
    assert json.loads(record.content_string)


def test_header_backup_on_the_controller_is_encrypted():
    backups = glob.glob(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "luks-headers", "**", "*.luks-header.enc"), recursive=True)
    assert backups
    with open(backups[0], "rb") as handle:
        data = handle.read()
    assert data.startswith(b"Salted__") and b"LUKS" not in data[:4096]
    # fetch alone left it at the controller's umask (0644, measured); the role sets 0600 after the fetch.
    assert all(stat.S_IMODE(os.stat(path).st_mode) == 0o600 for path in backups), \
        [(path, oct(os.stat(path).st_mode)) for path in backups]


def test_a_disk_holding_data_is_refused_and_keeps_its_file(host):
    result = _playbook("encrypted_storage_refuse.yml")
    assert result.returncode != 0, result.output[-3000:]
    assert "/dev/vdc holds a ext4 filesystem" in result.output, result.output[-3000:]
    assert "encrypted_storage_force_format" in result.output
    assert "ext4" in host.check_output("blkid -p -o value -s TYPE /dev/vdc")
    assert host.run("mkdir -p /mnt/check && mount -o ro /dev/vdc /mnt/check && cat /mnt/check/data.txt; umount /mnt/check").stdout.strip() \
        == "precious"


def test_rotation_replaces_the_passphrase_and_logs_no_secret(host):
    result = _playbook("../../playbooks/rotate_keys.yml", "-vvv", "-e", "rotate_keys_hosts=os-tuning-vm",
                       "-e", "encrypted_storage_new_passphrase=" + NEW_PASSPHRASE)
    assert result.returncode == 0, result.output[-4000:]
    for secret in (PASSPHRASE, NEW_PASSPHRASE, BACKUP_PASSPHRASE):
        assert secret not in result.output
    old = host.run("printf %s '{}' | cryptsetup open --test-passphrase --key-file=- /dev/vdb".format(PASSPHRASE))
    new = host.run("printf %s '{}' | cryptsetup open --test-passphrase --key-file=- /dev/vdb".format(NEW_PASSPHRASE))
    assert old.rc != 0 and new.rc == 0
    assert "tang" in host.check_output("clevis luks list -d /dev/vdb")
