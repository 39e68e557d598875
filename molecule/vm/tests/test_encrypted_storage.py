"""Verify encrypted_storage's LUKS2 volume on os-tuning-vm (after the reboot: unlocked by Clevis + Tang on fabric-vm-b)."""

import glob
import json
import os
import re
import shlex
import stat
import subprocess
import time

import pytest
import testinfra

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


def test_an_unfinished_in_place_encryption_is_finished_and_keeps_the_file(host):
    # What a power loss leaves during encrypt_in_place: the file system shrunk by the header's room, the LUKS2 header
    # written (the role's label, the reencryption in progress: cryptsetup reencrypt --init-only), not one block
    # encrypted yet. The next run finds the role's label, finishes the encryption, then opens, binds and mounts it.
    fsck = host.run("e2fsck -f -p /dev/vdc")
    assert fsck.rc in (0, 1), fsck.stderr
    host.check_output("resize2fs /dev/vdc 32M")
    host.check_output("printf %%s %s | cryptsetup reencrypt --encrypt --init-only --type luks2 --reduce-device-size 32M"
                      " --pbkdf pbkdf2 --label onprem-deepseek-scratch --key-file=- --batch-mode /dev/vdc" % shlex.quote(PASSPHRASE))
    assert "online-reencrypt" in host.check_output("cryptsetup luksDump /dev/vdc")
    result = _playbook("encrypted_storage_in_place.yml", "-v")
    assert result.returncode == 0, result.output[-3000:]
    # The task's first result line after its header (profile_tasks puts a time line between them).
    task = result.output.split("Finish it (cryptsetup reencrypt --resume-only, the passphrase on stdin): volume scratch]", 1)
    assert len(task) == 2, result.output[-3000:]
    assert re.search(r"^(changed|ok|skipping)", task[1], re.M).group(1) == "changed", task[1][:1000]
    assert "online-reencrypt" not in host.check_output("cryptsetup luksDump /dev/vdc")
    assert host.check_output("findmnt -n -o SOURCE /srv/scratch") == "/dev/mapper/scratch"
    assert host.check_output("cat /srv/scratch/data.txt") == "precious"
    assert PASSPHRASE not in result.output


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


STAND_IN = """[Unit]
Description=VM lab: a stand-in engine that needs the model volume (the inference unit's RequiresMountsFor=)
RequiresMountsFor=/srv/deepseek

[Service]
ExecStart=/bin/sleep infinity
"""


DEVICE_DROPIN = "/run/systemd/system/dev-mapper-models.device.d"


def _peer():
    return testinfra.get_host("ansible://fabric-vm-b", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def _wait(check, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(3)
    return check()


def test_with_tang_down_the_volume_stays_locked_and_the_engine_fails(host):
    # The unlock a boot does (systemd-cryptsetup asks, clevis-luks-askpass answers from Tang), without a reboot: close
    # the volume, stop Tang on the peer, start a unit that needs the mount.
    peer = _peer()
    host.check_output("printf %s {} > /run/systemd/system/lab-engine.service && systemctl daemon-reload".format(
        shlex.quote(STAND_IN)))
    # systemd keeps the passphrase a volume was opened with in the kernel keyring for 2.5 minutes and tries it first
    # (measured: a restart 20 s after the boot's unlock opened it with Tang down): a boot has no such cache, so let it expire.
    opened = int(host.check_output("systemctl show -P ActiveEnterTimestampMonotonic systemd-cryptsetup@models.service")) / 1e6
    time.sleep(max(0.0, opened + 160 - float(host.file("/proc/uptime").content_string.split()[0])))
    host.check_output("systemctl stop lab-engine.service srv-deepseek.mount systemd-cryptsetup@models.service")
    assert not host.file("/dev/mapper/models").exists
    # The role's x-systemd.device-timeout (encrypted_storage_device_timeout, 120 s) is what a boot needs: here the
    # device's wait is cut to 40 s by a runtime drop-in over the one systemd's fstab generator wrote (lab only: the
    # test is about what fails, not how long it waits; 80 s less of the CI run).
    host.check_output("mkdir -p {0} && printf '[Unit]\\nJobRunningTimeoutSec=40\\n' > {0}/99-lab.conf && systemctl daemon-reload"
                      .format(DEVICE_DROPIN))
    try:
        peer.check_output("systemctl stop tangd.socket")
        since = host.check_output("date '+%Y-%m-%d %H:%M:%S'")
        host.check_output("systemctl start --no-block lab-engine.service")

        # the mount waits (40 s, above) for /dev/mapper/models, then fails, and with it the
        # unit's start job (the unit stays inactive: a dependency failure is the job's result, not the unit's state)
        def journal():
            return host.check_output("journalctl --no-pager -o cat --since %s -u lab-engine.service -u srv-deepseek.mount"
                                     % shlex.quote(since))
        assert _wait(lambda: "lab-engine.service/start failed with result 'dependency'" in journal(), 200), \
            host.run("systemctl status lab-engine.service srv-deepseek.mount systemd-cryptsetup@models.service").stdout
        assert "Dependency failed for lab-engine.service" in journal()
        assert host.run("systemctl is-active lab-engine.service").stdout.strip() != "active"
        assert host.run("findmnt /srv/deepseek").rc != 0          # nothing serves from the bare mount point
        assert not host.file("/dev/mapper/models").exists
    finally:
        peer.run("systemctl start tangd.socket")
        host.run("rm -rf {0} && systemctl daemon-reload".format(DEVICE_DROPIN))
    # Tang back: clevis-luks-askpass, still answering systemd-cryptsetup's question, unlocks it with no passphrase typed
    # (each of its tries takes about 7 s of CPU in a TCG guest; the unlock came 80 s after Tang did, 2026-12-05)
    assert _wait(lambda: host.file("/dev/mapper/models").exists, 300), \
        host.run("systemctl status systemd-cryptsetup@models.service clevis-luks-askpass.service").stdout
    host.check_output("systemctl start lab-engine.service")
    assert host.check_output("findmnt -no SOURCE /srv/deepseek") == "/dev/mapper/models"
    host.run("systemctl stop lab-engine.service; rm -f /run/systemd/system/lab-engine.service; systemctl daemon-reload")
