# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Encrypted data volumes: the inventory's volume list checked, and the "does this device hold data?" decision.

Pure functions over the read-only probes the role runs on the host (`blkid -p -o export DEVICE`,
`wipefs --no-act DEVICE`); the role never formats a device these functions did not clear.
"""

from __future__ import annotations

import json
import re

# LUKS2 labels the role writes: this prefix and the volume name (a LUKS2 label holds 47 bytes).
LABEL_PREFIX = "onprem-deepseek-"
SUBSYSTEM = "onprem-deepseek"
FORCE_VARIABLE = "encrypted_storage_force_format"
FSTYPES = ("ext4", "xfs")
# File systems that can be encrypted in place (encrypt_in_place): shrunk by the LUKS2 header's room first
# (roles/encrypted_storage/vars/main.yml), which xfs cannot do.
IN_PLACE_FSTYPES = ("ext4",)
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
# Stable paths first (preferred); /dev/vdX is accepted for VM labs.
STABLE_PREFIXES = ("/dev/disk/by-id/", "/dev/disk/by-path/", "/dev/disk/by-partlabel/", "/dev/disk/by-partuuid/")
LAB_RE = re.compile(r"^/dev/vd[a-z]+[0-9]*$")


def label_for(name):
    """The LUKS2 label of volume `name`."""
    return LABEL_PREFIX + name


def parse_blkid_export(text):
    """`blkid -p -o export` output -> {KEY: value}; nothing found (exit 2, no output) -> {}."""
    found = {}
    for line in (text or "").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key:
            found[key] = value
    return found


def volume_problems(volumes):
    """Every problem of `encrypted_storage_volumes`, one sentence each (empty: usable)."""
    if not isinstance(volumes, list):
        return ["encrypted_storage_volumes is %r; want a list of {name, device, mount}" % (volumes,)]
    problems, seen = [], {"name": {}, "device": {}, "mount": {}}
    for index, volume in enumerate(volumes):
        where = "encrypted_storage_volumes[%d]" % index
        if not isinstance(volume, dict):
            problems.append("%s is %r; want a dictionary with name, device, mount" % (where, volume))
            continue
        unknown = sorted(set(volume) - {"name", "device", "mount", "fstype", "mount_options", "encrypt_in_place"})
        if unknown:
            problems.append("%s has unknown keys %s; allowed: name, device, mount, fstype, mount_options, encrypt_in_place"
                            % (where, ", ".join(unknown)))
        name, device, mount = volume.get("name"), volume.get("device"), volume.get("mount")
        if not isinstance(name, str) or not NAME_RE.match(name):
            problems.append("%s.name is %r; want lower-case letters, digits or _, starting with a letter, at most 31"
                            " characters (it names /dev/mapper/NAME, systemd-cryptsetup@NAME.service and the LUKS label %sNAME)" % (where, name, LABEL_PREFIX))
        if not isinstance(device, str) or not device.startswith("/dev/"):
            problems.append("%s.device is %r; want a path under /dev, preferably /dev/disk/by-id/..." % (where, device))
        elif not device.startswith(STABLE_PREFIXES) and not LAB_RE.match(device):
            problems.append("%s.device is %s: a kernel name that can change between boots; use /dev/disk/by-id/..., by-path,"
                            " by-partlabel or by-partuuid (/dev/vdX is accepted for VM labs)" % (where, device))
        if not isinstance(mount, str) or not mount.startswith("/") or mount.rstrip("/") in ("", "/boot", "/etc", "/usr", "/var"):
            problems.append("%s.mount is %r; want an absolute directory of its own (the model store or log path)" % (where, mount))
        fstype = volume.get("fstype", "ext4")
        if fstype not in FSTYPES:
            problems.append("%s.fstype is %r; allowed: %s" % (where, fstype, ", ".join(FSTYPES)))
        in_place = volume.get("encrypt_in_place", False)
        if not isinstance(in_place, bool):
            problems.append("%s.encrypt_in_place is %r; want true or false" % (where, in_place))
        elif in_place and fstype in FSTYPES and fstype not in IN_PLACE_FSTYPES:
            problems.append("%s.encrypt_in_place is true but its fstype is %s: only %s can be encrypted in place (shrunk by"
                            " the LUKS2 header's room first; xfs cannot shrink)" % (where, fstype, ", ".join(IN_PLACE_FSTYPES)))
        for key in ("name", "device", "mount"):
            value = volume.get(key)
            if isinstance(value, str):
                value = value.rstrip("/") or value
                if value in seen[key]:
                    problems.append("%s.%s %s is also encrypted_storage_volumes[%d].%s" % (where, key, value, seen[key][value], key))
                else:
                    seen[key][value] = index
    return problems


def _found(probe):
    """What a probe found, in words, or '' when the device is blank."""
    if probe.get("TYPE") == "crypto_LUKS":
        return "a LUKS%s header of another volume (label %s, UUID %s)" % (
            probe.get("VERSION", ""), probe.get("LABEL") or "none", probe.get("UUID") or "none")
    if probe.get("TYPE"):
        what = "a %s %s" % (probe["TYPE"], probe.get("USAGE") or "signature")
        if probe.get("USAGE") == "other":
            what = "a %s signature" % probe["TYPE"]
        return what + (" (UUID %s)" % probe["UUID"] if probe.get("UUID") else "")
    if probe.get("PTTYPE"):
        return "a %s partition table%s" % (probe["PTTYPE"], " (PTUUID %s)" % probe["PTUUID"] if probe.get("PTUUID") else "")
    return ""


def device_verdict(blkid_output, name, device, record_uuid="", force=False, wipefs_output="", in_place=False):
    """Decide what the role may do with `device` for volume `name`.

    Returns {'action': 'format' | 'open' | 'encrypt' | 'refuse', 'wipe': bool, 'uuid': str, 'reason': str}:
    - open: the device holds this role's LUKS volume `name` (its label, and the UUID recorded on the host
      if there is a record): nothing is formatted, ever;
    - encrypt: the volume asks for `in_place` (encrypt_in_place) and the device holds a file system that can be
      encrypted in place (ext4): it is encrypted with its data kept, never formatted, even when `force` is true;
    - format: the device is blank (blkid found nothing); or it holds something else and `force` is true
      (then 'wipe' is true: its signatures are erased first);
    - refuse: it holds something else; the reason names the device, what was found and the variable that
      would allow erasing it.
    """
    probe = parse_blkid_export(blkid_output)
    label = label_for(name)
    uuid = probe.get("UUID", "")
    if probe.get("TYPE") == "crypto_LUKS" and probe.get("LABEL") == label and probe.get("SUBSYSTEM", SUBSYSTEM) == SUBSYSTEM:
        if not record_uuid or record_uuid == uuid:
            return {"action": "open", "wipe": False, "uuid": uuid, "reason": "%s holds this role's volume %s (UUID %s)" % (device, name, uuid)}
        found = ("a LUKS volume labelled %s with UUID %s, not the UUID %s recorded on this host for %s"
                 % (label, uuid, record_uuid, name))
    else:
        found = _found(probe)
    if not found:
        return {"action": "format", "wipe": False, "uuid": "", "reason": "%s is blank (blkid found no signature)" % device}
    signatures = "; ".join(line.strip() for line in (wipefs_output or "").splitlines()[1:] if line.strip())
    detail = found + (" [wipefs: %s]" % signatures if signatures else "")
    if in_place and probe.get("USAGE") == "filesystem" and probe.get("TYPE") in IN_PLACE_FSTYPES:
        return {"action": "encrypt", "wipe": False, "uuid": "",
                "reason": "volume %s: %s holds %s; encrypted in place, its data kept (encrypt_in_place)" % (name, device, found)}
    if in_place and probe.get("TYPE") != "crypto_LUKS" and not force:
        return {"action": "refuse", "wipe": False, "uuid": probe.get("UUID", ""),
                "reason": ("volume %s: %s holds %s, which cannot be encrypted in place (encrypt_in_place takes %s file"
                           " systems); nothing was changed. If that data may be destroyed, add %s to %s"
                           % (name, device, detail, ", ".join(IN_PLACE_FSTYPES), device, FORCE_VARIABLE))}
    if force:
        return {"action": "format", "wipe": True, "uuid": "",
                "reason": "%s holds %s; erased because it is listed in %s" % (device, detail, FORCE_VARIABLE)}
    return {"action": "refuse", "wipe": False, "uuid": uuid,
            "reason": ("volume %s: %s holds %s; nothing was changed. If that data may be destroyed, add %s to %s"
                       % (name, device, detail, device, FORCE_VARIABLE))}


_LIST_LINE = re.compile(r"^(\d+): (\S+) '(.*)'$")


def _policy(pin, config):
    """What of a Clevis policy `clevis luks list` shows and a re-run can compare: pins, threshold, URLs, PCRs.

    The Tang thumbprint (thp) is not in the LUKS metadata's listing, and tpm2's hash/key/bank take defaults."""
    if pin == "tang":
        return ("tang", str(config.get("url", "")).rstrip("/"))
    if pin == "tpm2":
        return ("tpm2", str(config.get("pcr_ids", "")).replace(" ", ""))
    if pin == "sss":
        pins = config.get("pins") or {}
        members = []
        for name in sorted(pins):
            entries = pins[name] if isinstance(pins[name], list) else [pins[name]]
            members.extend(_policy(name, entry if isinstance(entry, dict) else {}) for entry in entries)
        return ("sss", int(config.get("t", 1)), tuple(sorted(members, key=repr)))
    return (pin, repr(sorted(config.items())))


def clevis_bindings(list_output, pin, config):
    """`clevis luks list -d DEV` output -> {'matching': [slots bound with the policy pin/config], 'other': [other slots]}.

    A line that cannot be read counts as 'other' (the role replaces it)."""
    wanted = _policy(pin, config or {})
    matching, other = [], []
    for line in (list_output or "").splitlines():
        line = line.strip()
        if not line:
            continue
        found = _LIST_LINE.match(line)
        if not found:
            continue
        slot = int(found.group(1))
        try:
            policy = _policy(found.group(2), json.loads(found.group(3)))
        except (ValueError, TypeError, AttributeError):
            other.append(slot)
            continue
        (matching if policy == wanted else other).append(slot)
    return {"matching": matching, "other": other}
