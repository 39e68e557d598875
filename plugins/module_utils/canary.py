# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The canary's error ratio from the gateway's access log, and the verdict.

During a canary upgrade the gateway sends a share of the requests to the new version (its own upstream address) and
the rest to the serving one. Each line of the gateway's log_format deepseek_gateway names the upstream(s) nginx
tried and their statuses: upstream="$upstream_addr" upstream_status="$upstream_status". nginx separates the servers
of one request by ", " and the groups of an internal redirect by " : " (https://nginx.org/en/docs/http/
ngx_http_upstream_module.html#var_upstream_addr, #var_upstream_status), positions matching. A try of the canary
counts as one of its requests; it is an error when its status is 500 or more (nginx writes 502 or 504 itself when
the server could not be reached or did not answer in time). The other upstreams are tallied the same way, as the
baseline. Pure functions: the module onprem.deepseek.canary_check reads the log and returns what they say.
"""

from __future__ import annotations

import re

FIELDS = re.compile(r' upstream="(?P<addr>[^"]*)" upstream_status="(?P<status>[^"]*)"')
SEPARATORS = re.compile(r'\s*[,:]\s+|\s+:\s*')
DEFAULT_THRESHOLD_PERCENT = 5.0
DEFAULT_MIN_REQUESTS = 20


def _tries(addr, status):
    """[(address, status or None)] of one line's upstream fields."""
    addresses = [a for a in SEPARATORS.split(addr.strip()) if a]
    statuses = [s for s in SEPARATORS.split(status.strip()) if s]
    tries = []
    for index, address in enumerate(addresses):
        if address == '-':
            continue
        code = statuses[index] if index < len(statuses) else '-'
        tries.append((address, int(code) if code.isdigit() else None))
    return tries


def _ratio(errors, requests):
    return round(100.0 * errors / requests, 2) if requests else 0.0


def tally(lines, canary):
    """{canary: {requests, errors, error_percent}, baseline: {...}, unparsed} over the log lines.

    canary: the new version's upstream address as nginx writes it (host:port, e.g. 127.0.0.1:8001).
    """
    found = {'canary': {'requests': 0, 'errors': 0}, 'baseline': {'requests': 0, 'errors': 0}, 'unparsed': 0}
    for line in lines:
        match = FIELDS.search(line)
        if not match:
            found['unparsed'] += 1
            continue
        for address, status in _tries(match.group('addr'), match.group('status')):
            side = found['canary' if address == canary else 'baseline']
            side['requests'] += 1
            if status is not None and status >= 500:
                side['errors'] += 1
    for side in ('canary', 'baseline'):
        found[side]['error_percent'] = _ratio(found[side]['errors'], found[side]['requests'])
    return found


def verdict(found, threshold_percent=DEFAULT_THRESHOLD_PERCENT, min_requests=DEFAULT_MIN_REQUESTS):
    """'rollback' when the canary's error ratio is over the threshold, 'promote' when it is at or under it, each once
    the canary served min_requests; 'wait' before."""
    canary = found['canary']
    if canary['requests'] < min_requests:
        return 'wait'
    return 'rollback' if canary['error_percent'] > float(threshold_percent) else 'promote'


def summary(found, threshold_percent=DEFAULT_THRESHOLD_PERCENT):
    """One sentence with the numbers, for the run's output and its failure message."""
    canary, baseline = found['canary'], found['baseline']
    return ('canary: %d error(s) in %d request(s), %.2f %% (threshold %.2f %%); serving version: %d error(s) in %d request(s), %.2f %%'
            % (canary['errors'], canary['requests'], canary['error_percent'], float(threshold_percent),
               baseline['errors'], baseline['requests'], baseline['error_percent']))
