# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What every sizing module shares: the error class, argument checks, sizes and versions.

Pure Python, no Ansible imports. Units: GiB = 2**30 bytes everywhere.
"""

from __future__ import annotations

import difflib
import math
import re

GIB = float(2 ** 30)


class SizingError(ValueError):
    """Bad input to the sizing engine: names the argument, the value and what is allowed."""

    def __init__(self, message, argument=None, value=None, allowed=None):
        super(SizingError, self).__init__(message)
        self.argument = argument
        self.value = value
        self.allowed = allowed


def _norm(name):
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _gib(num_bytes, digits=3):
    return round(num_bytes / GIB, digits)


def did_you_mean(value, allowed, limit=3, candidates=None, key=None):
    """The allowed names closest to a mistyped one (case and punctuation ignored), best first.

    candidates: {normalised spelling: canonical name}, to match aliases too (nvidia-smi names, Hugging Face repos);
    key: the normaliser those spellings were made with (default _norm).
    """
    key = key or _norm
    if candidates is None:
        candidates = {}
        for name in allowed:
            candidates.setdefault(key(name), name)
    close = []
    for spelling in difflib.get_close_matches(key(value), list(candidates), n=limit * 4, cutoff=0.6):
        if candidates[spelling] not in close:
            close.append(candidates[spelling])
    return close[:limit]


def _unknown(argument, value, allowed, route=None, candidates=None, key=None):
    """The error for a name not in a table: the allowed names, the closest ones, and (route) how to go without one."""
    close = did_you_mean(value, allowed, candidates=candidates, key=key) if isinstance(value, str) and value.strip() else []
    hint = ("; did you mean %s?" % " or ".join(close)) if close else ""
    hint += (" Not listed? %s" % route) if route else ""
    return SizingError(
        "unknown %s %r; allowed: %s%s" % (argument, value, ", ".join(allowed), hint),
        argument=argument, value=value, allowed=list(allowed))


def _number(argument, value, minimum=0.0, maximum=None, integer=False, allow_equal_min=True):
    """Validate a numeric argument; booleans and numeric strings are handled explicitly."""
    if isinstance(value, bool):
        raise SizingError("%s must be a number, got %r" % (argument, value), argument, value)
    if isinstance(value, str):
        try:
            value = float(value) if not integer else int(value)
        except ValueError:
            raise SizingError("%s must be a number, got %r" % (argument, value), argument, value)
    if not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        raise SizingError("%s must be a number, got %r" % (argument, value), argument, value)
    # inf (or '1e999', or an int too large for a float) would overflow the float arithmetic downstream
    # or turn a loop unbounded: refused here, by name, like any other bad number.
    try:
        finite = math.isfinite(float(value))
    except OverflowError:
        finite = False
    if not finite:
        raise SizingError("%s must be a finite number, got %r" % (argument, value), argument, value)
    if integer and int(value) != value:
        raise SizingError("%s must be a whole number, got %r" % (argument, value), argument, value)
    if (value < minimum) if allow_equal_min else (value <= minimum):
        raise SizingError("%s must be %s %s, got %r" % (argument, ">=" if allow_equal_min else ">", minimum, value), argument, value)
    if maximum is not None and value > maximum:
        raise SizingError("%s must be <= %s, got %r" % (argument, maximum, value), argument, value)
    return int(value) if integer else value


_UNITS = {
    "": 1, "b": 1,
    "k": 2 ** 10, "ki": 2 ** 10, "kib": 2 ** 10, "kb": 10 ** 3,
    "m": 2 ** 20, "mi": 2 ** 20, "mib": 2 ** 20, "mb": 10 ** 6,
    "g": 2 ** 30, "gi": 2 ** 30, "gib": 2 ** 30, "gb": 10 ** 9,
    "t": 2 ** 40, "ti": 2 ** 40, "tib": 2 ** 40, "tb": 10 ** 12,
}


def parse_size(value, argument="size"):
    """Bytes from an int or a string like '100GiB', '2M', '1.5 TiB' (K/M/G/T and KiB.. are binary, KB.. decimal)."""
    if isinstance(value, bool):
        raise SizingError("%s must be a size in bytes or a string like '100GiB', got %r" % (argument, value), argument, value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise SizingError("%s must be a finite size in bytes, got %r" % (argument, value), argument, value)
        if value < 0:
            raise SizingError("%s must be >= 0, got %r" % (argument, value), argument, value)
        if value >= 2 ** 64:  # no memory is this large; past 2**1024 the float arithmetic downstream overflows
            raise SizingError("%s must be below 2**64 bytes, got %r" % (argument, value), argument, value)
        return int(value)
    match = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$", str(value))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS:
        if isinstance(value, str) and value.strip().startswith("-"):
            raise SizingError("%s must be >= 0, got %r" % (argument, value), argument, value)
        raise SizingError("%s must be a size in bytes or a string like '100GiB' (units: B, K, KiB, KB, M, MiB, MB, G, GiB, GB, T, TiB, TB), got %r"
                          % (argument, value), argument, value, sorted(_UNITS))
    return int(round(float(match.group(1)) * _UNITS[unit]))


def _version_tuple(value, argument):
    text = str(value).strip()
    if not re.match(r"^[0-9]+(\.[0-9]+)*$", text):
        raise SizingError("%s must be a dotted version like '550.54.15', got %r" % (argument, value), argument, value)
    return tuple(int(p) for p in text.split("."))
