# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The "does this device hold data?" decision of the encrypted_storage role, on real probe outputs.

The fixtures were captured on Debian 12 (util-linux 2.38.1, cryptsetup 2.6.1) from regular 20 MiB files, no device-mapper
or loop device involved (the commands are beside each one); test_live_probes makes the same files again when the tools
are there and checks that the decision is the same.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.deepseek.plugins.filter.storage import FilterModule
from ansible_collections.onprem.deepseek.plugins.module_utils import storage

FILTERS = FilterModule().filters()

# truncate -s 20M empty.img; blkid -p -o export empty.img  -> exit 2, no output
BLANK = ""
# mkfs.ext4 -q ext4.img; blkid -p -o export ext4.img
EXT4 = """DEVNAME=ext4.img
UUID=dc2525ef-1ba4-4e35-b170-35530bce93bc
VERSION=1.0
BLOCK_SIZE=1024
TYPE=ext4
USAGE=filesystem
"""
# wipefs --no-act ext4.img
EXT4_WIPEFS = ("DEVICE   OFFSET TYPE UUID                                 LABEL\n"
               "ext4.img 0x438  ext4 dc2525ef-1ba4-4e35-b170-35530bce93bc \n")  # (sic: the empty LABEL column leaves a space)
# printf 'label: gpt\n,10M\n' | sfdisk -q gpt.img; blkid -p -o export gpt.img
GPT = """DEVNAME=gpt.img
PTUUID=3da863f2-972a-724f-b30e-d8ad718cd207
PTTYPE=gpt
"""
# printf 'label: dos\n,10M\n' | sfdisk -q mbr.img
MBR = """DEVNAME=mbr.img
PTUUID=5cb6d5da
PTTYPE=dos
"""
# mkswap -q sw.img
SWAP = """DEVNAME=sw.img
UUID=3eab1f34-fba2-453c-bf70-5ecc260ab697
VERSION=1
TYPE=swap
USAGE=other
"""
# cryptsetup luksFormat --type luks2 --label onprem-deepseek-models --subsystem onprem-deepseek ... luks.img
OWN_WITH_SUBSYSTEM = """DEVNAME=luks.img
VERSION=2
UUID=b798a561-f0d0-416e-a70f-9bc88bac63c5
LABEL=onprem-deepseek-models
SUBSYSTEM=onprem-deepseek
TYPE=crypto_LUKS
USAGE=crypto
"""
# cryptsetup luksFormat --type luks2 --label onprem-deepseek-models own2.img (what community.crypto.luks_device writes)
OWN = """DEVNAME=own2.img
VERSION=2
UUID=924ec1f6-084e-49b7-8210-b1617162cd76
LABEL=onprem-deepseek-models
TYPE=crypto_LUKS
USAGE=crypto
"""
# cryptsetup luksFormat --type luks2 --label backups other.img
OTHER_LUKS = """DEVNAME=other.img
VERSION=2
UUID=190bce01-d173-4989-aebc-29c5b37661d2
LABEL=backups
TYPE=crypto_LUKS
USAGE=crypto
"""
# wipefs --no-act other.img
OTHER_LUKS_WIPEFS = """DEVICE    OFFSET TYPE        UUID                                 LABEL
other.img 0x0    crypto_LUKS 190bce01-d173-4989-aebc-29c5b37661d2 backups
other.img 0x4000 crypto_LUKS 190bce01-d173-4989-aebc-29c5b37661d2 backups
"""
# cryptsetup luksFormat --type luks1 l1.img
LUKS1 = """DEVNAME=l1.img
VERSION=1
UUID=9e4b9337-b347-4071-bb51-d563c3c6957a
TYPE=crypto_LUKS
USAGE=crypto
"""
DEV = "/dev/disk/by-id/virtio-data"
FORCE = "add /dev/disk/by-id/virtio-data to encrypted_storage_force_format"


def verdict(*args, **kwargs):
    return FILTERS["luks_device_verdict"](*args, **kwargs)


def test_blank_device_is_formatted():
    assert verdict(BLANK, "models", DEV) == {"action": "format", "wipe": False, "uuid": "",
                                             "reason": "/dev/disk/by-id/virtio-data is blank (blkid found no signature)"}


@pytest.mark.parametrize("probe,uuid", [(OWN, "924ec1f6-084e-49b7-8210-b1617162cd76"),
                                        (OWN_WITH_SUBSYSTEM, "b798a561-f0d0-416e-a70f-9bc88bac63c5")])
def test_own_volume_is_opened_never_formatted(probe, uuid):
    for force in (False, True):
        out = verdict(probe, "models", DEV, force=force)
        assert out["action"] == "open" and out["uuid"] == uuid and not out["wipe"]
    assert verdict(probe, "models", DEV, record_uuid=uuid)["action"] == "open"


@pytest.mark.parametrize("probe,wipefs,found", [
    (EXT4, EXT4_WIPEFS, "a ext4 filesystem (UUID dc2525ef-1ba4-4e35-b170-35530bce93bc)"
                        " [wipefs: ext4.img 0x438  ext4 dc2525ef-1ba4-4e35-b170-35530bce93bc]"),
    (EXT4, "", "a ext4 filesystem (UUID dc2525ef-1ba4-4e35-b170-35530bce93bc)"),
    (GPT, "", "a gpt partition table (PTUUID 3da863f2-972a-724f-b30e-d8ad718cd207)"),
    (MBR, "", "a dos partition table (PTUUID 5cb6d5da)"),
    (SWAP, "", "a swap signature (UUID 3eab1f34-fba2-453c-bf70-5ecc260ab697)"),
    (OTHER_LUKS, OTHER_LUKS_WIPEFS,
     "a LUKS2 header of another volume (label backups, UUID 190bce01-d173-4989-aebc-29c5b37661d2) [wipefs: "
     "other.img 0x0    crypto_LUKS 190bce01-d173-4989-aebc-29c5b37661d2 backups; "
     "other.img 0x4000 crypto_LUKS 190bce01-d173-4989-aebc-29c5b37661d2 backups]"),
    (LUKS1, "", "a LUKS1 header of another volume (label none, UUID 9e4b9337-b347-4071-bb51-d563c3c6957a)"),
    # Our label, but not the volume this host recorded: a disk from another host, or a swapped one.
    (OWN, "", "a LUKS volume labelled onprem-deepseek-models with UUID 924ec1f6-084e-49b7-8210-b1617162cd76, not the UUID"
              " 11111111-2222-3333-4444-555555555555 recorded on this host for models"),
])
def test_device_with_data_is_refused_naming_device_contents_and_variable(probe, wipefs, found):
    record = "11111111-2222-3333-4444-555555555555" if probe is OWN else ""
    out = verdict(probe, "models", DEV, record_uuid=record, wipefs_output=wipefs)
    assert out["action"] == "refuse" and not out["wipe"]
    assert out["reason"] == "volume models: %s holds %s; nothing was changed. If that data may be destroyed, %s" % (DEV, found, FORCE)
    forced = verdict(probe, "models", DEV, record_uuid=record, force=True, wipefs_output=wipefs)
    assert forced["action"] == "format" and forced["wipe"] is True
    assert forced["reason"] == "%s holds %s; erased because it is listed in encrypted_storage_force_format" % (DEV, found)


def test_in_place_encrypts_an_ext4_file_system_keeping_its_data():
    # encrypt_in_place: the data partition of an appliance image, or a brownfield model store disk.
    for force in (False, True):
        out = verdict(EXT4, "models", DEV, force=force, wipefs_output=EXT4_WIPEFS, in_place=True)
        assert out == {"action": "encrypt", "wipe": False, "uuid": "",
                       "reason": "volume models: %s holds a ext4 filesystem (UUID dc2525ef-1ba4-4e35-b170-35530bce93bc);"
                                 " encrypted in place, its data kept (encrypt_in_place)" % DEV}
    # Blank: made as any volume; our own volume (encrypted before): opened.
    assert verdict(BLANK, "models", DEV, in_place=True)["action"] == "format"
    assert verdict(OWN, "models", DEV, in_place=True)["action"] == "open"


@pytest.mark.parametrize("probe", [GPT, SWAP])
def test_in_place_refuses_what_it_cannot_encrypt(probe):
    out = verdict(probe, "models", DEV, in_place=True)
    assert out["action"] == "refuse" and not out["wipe"]
    assert "which cannot be encrypted in place (encrypt_in_place takes ext4 file systems); nothing was changed. If that data" in out["reason"]
    assert out["reason"].endswith(FORCE)
    assert verdict(probe, "models", DEV, in_place=True, force=True)["action"] == "format"


def test_another_volume_name_is_not_ours():
    # The models volume's header on the device configured for the logs volume.
    out = verdict(OWN, "logs", DEV)
    assert out["action"] == "refuse"
    assert "a LUKS2 header of another volume (label onprem-deepseek-models" in out["reason"]


def test_foreign_subsystem_is_not_ours():
    out = verdict(OWN_WITH_SUBSYSTEM.replace("SUBSYSTEM=onprem-deepseek", "SUBSYSTEM=other-tool"), "models", DEV)
    assert out["action"] == "refuse"


def test_filter_rejects_a_bad_name():
    with pytest.raises(AnsibleFilterError) as err:
        verdict(BLANK, "bad-name", DEV)
    assert str(err.value).startswith("onprem.deepseek.luks_device_verdict: name is 'bad-name'; want a volume name")


SBIN_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"


def _live(tmp_path, cmd, name):
    path = str(tmp_path / name)
    env = dict(os.environ, PATH=SBIN_PATH)
    subprocess.run(["truncate", "-s", "20M", path], check=True)
    if cmd:
        argv = cmd(path)
        subprocess.run(argv, check=True, capture_output=True, env=env, input=b"x" if argv[0] == "cryptsetup" else None)
    probe = subprocess.run(["blkid", "-p", "-o", "export", path], capture_output=True, text=True, check=False, env=env)
    assert probe.returncode in (0, 2), probe.stderr
    return probe.stdout


LIVE = [
    ("blank", None, "format", "blkid"),
    ("ext4", lambda p: ["mkfs.ext4", "-q", "-F", p], "refuse", "mkfs.ext4"),
    ("gpt", lambda p: ["sh", "-c", "printf 'label: gpt\\n,10M\\n' | sfdisk -q %s" % p], "refuse", "sfdisk"),
    ("own", lambda p: ["cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations",
                       "1000", "--label", "onprem-deepseek-models", "--key-file", "-", p], "open", "cryptsetup"),
    ("other", lambda p: ["cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations",
                         "1000", "--label", "backups", "--key-file", "-", p], "refuse", "cryptsetup"),
]


@pytest.mark.parametrize("name,cmd,action,tool", LIVE, ids=[case[0] for case in LIVE])
def test_live_probes(tmp_path, name, cmd, action, tool):
    """The same files made now (regular files: no device-mapper, no loop device) and probed with this host's blkid."""
    for needed in (tool, "blkid"):
        if not shutil.which(needed, path=SBIN_PATH):
            pytest.skip("%s is not installed" % needed)
    assert verdict(_live(tmp_path, cmd, name + ".img"), "models", DEV)["action"] == action


# --- the volume list ---------------------------------------------------------------------------------------------

def problems(volumes):
    return FILTERS["luks_volume_problems"](volumes)


def test_good_volumes_have_no_problems():
    assert problems([{"name": "models", "device": "/dev/disk/by-id/nvme-Samsung_X_123", "mount": "/srv/deepseek"},
                     {"name": "logs", "device": "/dev/vdc", "mount": "/var/log/deepseek", "fstype": "xfs"},
                     {"name": "m2", "device": "/dev/disk/by-partlabel/models2", "mount": "/srv/m2", "mount_options": "defaults"}]) == []


@pytest.mark.parametrize("volumes,expected", [
    ({"name": "x"}, ["encrypted_storage_volumes is {'name': 'x'}; want a list of {name, device, mount}"]),
    ([{"name": "models", "device": "/dev/sdb", "mount": "/srv/deepseek"}],
     ["encrypted_storage_volumes[0].device is /dev/sdb: a kernel name that can change between boots; use /dev/disk/by-id/..., by-path,"
      " by-partlabel or by-partuuid (/dev/vdX is accepted for VM labs)"]),
    ([{"name": "Models-1", "device": "vdb", "mount": "srv", "fstype": "btrfs", "size": 1}],
     ["encrypted_storage_volumes[0] has unknown keys size; allowed: name, device, mount, fstype, mount_options, encrypt_in_place",
      "encrypted_storage_volumes[0].name is 'Models-1'; want lower-case letters, digits or _, starting with a letter, at most 31"
      " characters (it names /dev/mapper/NAME, systemd-cryptsetup@NAME.service and the LUKS label onprem-deepseek-NAME)",
      "encrypted_storage_volumes[0].device is 'vdb'; want a path under /dev, preferably /dev/disk/by-id/...",
      "encrypted_storage_volumes[0].mount is 'srv'; want an absolute directory of its own (the model store or log path)",
      "encrypted_storage_volumes[0].fstype is 'btrfs'; allowed: ext4, xfs"]),
    ([{"name": "a", "device": "/dev/vdb", "mount": "/srv/x"}, {"name": "a", "device": "/dev/vdb", "mount": "/srv/x/"}],
     ["encrypted_storage_volumes[1].name a is also encrypted_storage_volumes[0].name",
      "encrypted_storage_volumes[1].device /dev/vdb is also encrypted_storage_volumes[0].device",
      "encrypted_storage_volumes[1].mount /srv/x is also encrypted_storage_volumes[0].mount"]),
    ([{"name": "a", "device": "/dev/vdb", "mount": "/"}, "x"],
     ["encrypted_storage_volumes[0].mount is '/'; want an absolute directory of its own (the model store or log path)",
      "encrypted_storage_volumes[1] is 'x'; want a dictionary with name, device, mount"]),
    ([{"name": "a", "device": "/dev/vdb", "mount": "/srv/x", "fstype": "xfs", "encrypt_in_place": True},
      {"name": "b", "device": "/dev/vdc", "mount": "/srv/y", "encrypt_in_place": "yes"}],
     ["encrypted_storage_volumes[0].encrypt_in_place is true but its fstype is xfs: only ext4 can be encrypted in place"
      " (shrunk by the LUKS2 header's room first; xfs cannot shrink)",
      "encrypted_storage_volumes[1].encrypt_in_place is 'yes'; want true or false"]),
])
def test_volume_problems_exact_sentences(volumes, expected):
    assert problems(volumes) == expected


# --- Clevis bindings (lines as in clevis-luks-list(1), latchset/clevis src/luks/clevis-luks-list.1.adoc) ---------------

LIST = """1: sss '{"t":1,"pins":{"tang":[{"url":"http://tang1"},{"url":"http://tang2"}]}}'
2: tang '{"url":"http://tang1"}'
3: tpm2 '{"hash":"sha256","key":"ecc","pcr_bank":"sha1","pcr_ids":"7"}'
"""


@pytest.mark.parametrize("pin,config,matching,other", [
    ("tang", {"url": "http://tang1", "thp": "abc"}, [2], [1, 3]),
    ("tang", {"url": "http://tang1/", "thp": "abc"}, [2], [1, 3]),
    ("tang", {"url": "http://tang", "thp": "abc"}, [], [1, 2, 3]),
    ("sss", {"t": 1, "pins": {"tang": [{"url": "http://tang2", "thp": "b"}, {"url": "http://tang1", "thp": "a"}]}}, [1], [2, 3]),
    ("sss", {"t": 2, "pins": {"tang": [{"url": "http://tang1", "thp": "a"}, {"url": "http://tang2", "thp": "b"}]}}, [], [1, 2, 3]),
    ("sss", {"t": 1, "pins": {"tang": [{"url": "http://tang1", "thp": "a"}]}}, [], [1, 2, 3]),
    ("tpm2", {"pcr_ids": "7"}, [3], [1, 2]),
    ("tpm2", {"pcr_ids": "0,7"}, [], [1, 2, 3]),
])
def test_clevis_bindings(pin, config, matching, other):
    assert FILTERS["clevis_bindings"](LIST, pin, config) == {"matching": matching, "other": other}


def test_clevis_bindings_without_bindings():
    assert FILTERS["clevis_bindings"]("", "tang", {"url": "http://t"}) == {"matching": [], "other": []}


def test_clevis_bindings_rejects_an_unknown_pin():
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS["clevis_bindings"](LIST, "tpm1", {})
    assert str(err.value) == "onprem.deepseek.clevis_bindings: pin is 'tpm1'; allowed: tang, sss, tpm2"


def test_call_order_is_irrelevant():
    calls = [lambda: verdict(EXT4, "models", DEV), lambda: verdict(OWN, "models", DEV),
             lambda: problems([{"name": "a", "device": "/dev/vdb", "mount": "/srv/a"}]),
             lambda: FILTERS["clevis_bindings"](LIST, "tang", {"url": "http://tang1"})]
    first = [call() for call in calls]
    for order in itertools.permutations(range(len(calls))):
        assert [calls[i]() for i in order] == [first[i] for i in order]
    assert storage.label_for("models") == "onprem-deepseek-models"
