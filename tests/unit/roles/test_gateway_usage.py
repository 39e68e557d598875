"""The gateway's usage report (roles/gateway/files/onprem-deepseek-usage) over access logs in the gateway's log_format
(templates/site.conf.j2, deepseek_gateway; the live nginx test in test_gateway_render.py checks that nginx writes the
token fields this way)."""

import gzip
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
PROGRAM = os.path.join(ROOT, 'roles', 'gateway', 'files', 'onprem-deepseek-usage')


def _line(day, status, key, role='user', path='/v1/chat/completions', auth='ok', tokens=(None, None), owner=None):
    line = ('127.0.0.1 [%sT10:00:00+00:00] "POST %s HTTP/2.0" %d 512 300 0.250 key=%s upstream_time=0.240 role=%s auth="%s"'
            % (day, path, status, key, role, auth))
    if tokens != 'old':
        line += ' prompt_tokens=%s completion_tokens=%s' % tuple('-' if t is None else t for t in tokens)
    if owner is not None:  # lines since the gateway logged the key's owner ("" for JWT subjects and refusals)
        line += ' owner="%s"' % owner
    return line + '\n'


def _run(log_dir, *args):
    result = subprocess.run([sys.executable, PROGRAM, '--log-dir', str(log_dir)] + list(args),
                            capture_output=True, text=True, timeout=60, check=False)
    return result


def _logs(tmp_path):
    # Today's log, yesterday's rotated (uncompressed: delaycompress) and an older one compressed by logrotate.
    (tmp_path / 'access.log').write_text(
        _line('2026-12-04', 200, 'carol', tokens=(12, 16), owner='Risk team') + _line('2026-12-04', 200, 'carol', tokens=(7, 200))
        + _line('2026-12-04', 200, 'carol')  # a stream without usage
        + _line('2026-12-04', 401, '', role='', auth='key expired', owner='') + _line('2026-12-04', 429, 'carol')
        + _line('2026-12-04', 502, 'carol') + _line('2026-12-04', 200, 'jwt:dana', tokens=(3, 4), owner='')
        + _line('2026-12-04', 200, 'erin', tokens=(5, 6), owner='Risk team')
        + 'garbage line\n')
    (tmp_path / 'access.log-20261203').write_text(_line('2026-12-03', 200, 'carol', tokens=(1, 2)))
    with gzip.open(tmp_path / 'access.log-20261120.gz', 'wt') as handle:
        handle.write(_line('2026-11-20', 200, 'carol', tokens='old') + _line('2026-11-20', 403, 'audit', role='auditor'))
    (tmp_path / 'error.log').write_text(_line('2026-12-04', 200, 'carol', tokens=(1000, 1000)))  # not an access log


def test_usage_per_day_and_key_with_tokens_refusals_and_errors(tmp_path):
    _logs(tmp_path)
    result = _run(tmp_path, '--json')
    assert result.returncode == 0, result.stderr
    rows = {(row['day'], row['key'], row['owner']): row for row in json.loads(result.stdout)}
    assert sorted(rows) == [('2026-11-20', 'audit', 'audit'), ('2026-11-20', 'carol', 'carol'), ('2026-12-03', 'carol', 'carol'),
                            ('2026-12-04', '-', '-'), ('2026-12-04', 'carol', 'Risk team'), ('2026-12-04', 'carol', 'carol'),
                            ('2026-12-04', 'erin', 'Risk team'), ('2026-12-04', 'jwt:dana', 'jwt:dana')]
    # One row per key and owner: the line with the owner field (since the gateway logs it), and the older ones.
    assert rows[('2026-12-04', 'carol', 'Risk team')] == {
        'day': '2026-12-04', 'key': 'carol', 'owner': 'Risk team', 'requests': 1, 'answered': 1, 'refused': 0, 'errors': 0,
        'prompt_tokens': 12, 'completion_tokens': 16, 'without_usage': 0}
    assert rows[('2026-12-04', 'carol', 'carol')] == {
        'day': '2026-12-04', 'key': 'carol', 'owner': 'carol', 'requests': 4, 'answered': 2, 'refused': 1, 'errors': 1,
        'prompt_tokens': 7, 'completion_tokens': 200, 'without_usage': 1}
    rows = dict(((row['day'], row['key']), row) for row in json.loads(result.stdout))
    assert rows[('2026-12-04', '-')]['refused'] == 1 and rows[('2026-12-04', 'jwt:dana')]['completion_tokens'] == 4
    # A line written before the gateway logged tokens is an answer without usage.
    assert rows[('2026-11-20', 'carol')]['without_usage'] == 1 and rows[('2026-11-20', 'audit')]['refused'] == 1


def test_usage_filters_and_table(tmp_path):
    _logs(tmp_path)
    rows = json.loads(_run(tmp_path, '--json', '--since', '2026-12-01', '--until', '2026-12-03').stdout)
    assert [(row['day'], row['key']) for row in rows] == [('2026-12-03', 'carol')]
    rows = json.loads(_run(tmp_path, '--json', '--key', 'jwt:dana').stdout)
    assert [(row['day'], row['prompt_tokens']) for row in rows] == [('2026-12-04', 3)]
    table = _run(tmp_path).stdout.splitlines()
    assert table[0].split() == ['day', 'key', 'owner', 'requests', 'answered', 'refused', 'errors', 'prompt_tokens',
                                'completion_tokens', 'without_usage']
    assert table[6].split() == ['2026-12-04', 'carol', 'carol', '4', '2', '1', '1', '7', '200', '1']


def test_usage_per_owner(tmp_path):
    # An owner's keys add up; a key without an owner (a JWT subject, a refused request) answers for itself.
    _logs(tmp_path)
    rows = json.loads(_run(tmp_path, '--json', '--by', 'owner', '--since', '2026-12-04').stdout)
    assert [(row['owner'], row['requests'], row['prompt_tokens'], row['completion_tokens']) for row in rows] == [
        ('-', 1, 0, 0), ('Risk team', 2, 17, 22), ('carol', 4, 7, 200), ('jwt:dana', 1, 3, 4)]
    assert all('key' not in row for row in rows)
    rows = json.loads(_run(tmp_path, '--json', '--owner', 'Risk team').stdout)
    assert [(row['key'], row['prompt_tokens']) for row in rows] == [('carol', 12), ('erin', 5)]
    table = _run(tmp_path, '--by', 'owner', '--owner', 'jwt:dana').stdout.splitlines()
    assert table[0].split()[:3] == ['day', 'owner', 'requests'] and table[1].split()[:3] == ['2026-12-04', 'jwt:dana', '1']


def test_snapshot_holds_both_tallies_and_replaces_the_file_whole(tmp_path):
    logs = tmp_path / 'logs'
    logs.mkdir()
    _logs(logs)
    snapshot = tmp_path / 'usage.json'
    snapshot.write_text('old')
    result = _run(logs, '--snapshot', str(snapshot))
    assert result.returncode == 0 and result.stdout == '', result.stderr
    document = json.loads(snapshot.read_text())
    assert sorted(document) == ['generated', 'keys', 'owners'] and document['generated'].endswith('Z')
    assert document['keys'] == json.loads(_run(logs, '--json').stdout)
    assert document['owners'] == json.loads(_run(logs, '--json', '--by', 'owner').stdout)
    assert oct(snapshot.stat().st_mode & 0o777) == '0o644' and sorted(p.name for p in tmp_path.iterdir()) == ['logs', 'usage.json']


def test_bad_input_is_named(tmp_path):
    result = _run(tmp_path, '--since', '4 Dec')
    assert result.returncode == 2 and "--since is '4 Dec'; allowed: a day as YYYY-MM-DD" in result.stderr
    result = _run(tmp_path / 'missing')
    assert result.returncode == 2 and 'is not a directory' in result.stderr
    result = _run(tmp_path, '--by', 'team')
    assert result.returncode == 2 and "invalid choice: 'team'" in result.stderr
