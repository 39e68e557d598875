# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""onprem.deepseek.audit_log: one JSON line per administrative action, appended, root only; the actor from the controller."""

from __future__ import annotations

import datetime
import json
import os

from ansible_collections.onprem.deepseek.plugins.action import audit_log as action
from ansible_collections.onprem.deepseek.plugins.modules import audit_log


def test_lines_are_appended_root_only(tmp_path):
    path = str(tmp_path / 'log' / 'audit.log')
    when = datetime.datetime(2026, 12, 4, 16, 30, 5, tzinfo=datetime.timezone.utc)
    first = audit_log.entry('api keys changed', 'gateway', {'present': ['ops'], 'revoked': []}, 'ana@ctl', now=when)
    audit_log.append(path, first)
    audit_log.append(path, audit_log.entry('engine deployed', 'inference', {}, None, now=when))
    lines = [json.loads(line) for line in open(path).read().splitlines()]
    assert lines[0] == {'time': '2026-12-04T16:30:05Z', 'actor': 'ana@ctl', 'action': 'api keys changed', 'role': 'gateway',
                        'detail': {'present': ['ops'], 'revoked': []}}
    assert lines[1]['actor'] == 'unknown' and lines[1]['action'] == 'engine deployed'
    assert oct(os.stat(path).st_mode & 0o777) == '0o600'
    # The directory it creates is the collection's log root, which other log readers pass through (mtail reads the
    # gateway's log below it): traversable, while the audit log itself stays root-only.
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(str(tmp_path / 'log')).st_mode & 0o777 == 0o755 & ~umask


def test_actor_is_the_sudo_user_else_the_login_user():
    assert action.controller_actor({'SUDO_USER': 'ana'}).startswith('ana@')
    assert action.controller_actor({}).split('@')[0]
