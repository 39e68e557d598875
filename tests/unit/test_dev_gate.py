"""The test command's gate: every failing step fails its tier, every scenario is reported by name.

Runs a copy of scripts/dev in a temporary tree whose .venv/bin holds stub tools (yamllint,
ansible-lint, antsibull-changelog, molecule, python, podman) that fail on demand. The old gate ran
each tier inside `if ! ( cmd_$tier )`, where bash ignores `set -e`: a failing yamllint or a failing
Molecule scenario followed by a passing one was reported "0 failed" (issue 9, finding 1).
"""

import os
import re
import shutil
import stat
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

STUB = """#!/bin/sh
# Stub of {name}: fails when its name (or 'molecule:<scenario>') is listed in $GATE_FAIL.
echo "stub {name} $*" >> "$GATE_LOG"
key={name}
if [ "{name}" = molecule ]; then key="molecule:$3"; fi
case " $GATE_FAIL " in *" $key "*) echo "stub {name}: failing on purpose" >&2; exit 1 ;; esac
exit 0
"""


@pytest.fixture()
def tree(tmp_path):
    (tmp_path / 'scripts').mkdir()
    for name in ('dev', 'lib.sh', 'failure-digest'):
        shutil.copy2(os.path.join(ROOT, 'scripts', name), tmp_path / 'scripts' / name)
    venv_bin = tmp_path / '.venv' / 'bin'
    venv_bin.mkdir(parents=True)
    for name in ('ansible-playbook', 'yamllint', 'ansible-lint', 'antsibull-changelog', 'molecule', 'python', 'podman'):
        path = venv_bin / name
        path.write_text(STUB.format(name=name))
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    for scenario in ('alpha', 'broken', 'zulu'):
        (tmp_path / 'molecule' / scenario).mkdir(parents=True)
        (tmp_path / 'molecule' / scenario / 'molecule.yml').write_text('---\n')
    return tmp_path


def _dev(tree, *args, fail='', tiers=None, **extra_env):
    # Nothing of the gate that runs these tests reaches the copy under test (inside `scripts/dev test`, the unit tier
    # has ONPREM_GATE_DIGESTS=1, which would keep the copy's scenario digest back).
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('ONPREM_'))
    env.update(GATE_FAIL=fail, GATE_LOG=str(tree / 'calls.log'), **extra_env)
    if tiers is not None:
        env['ONPREM_TEST_TIERS'] = tiers
    result = subprocess.run([str(tree / 'scripts' / 'dev')] + list(args), capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    result.output = result.stdout + result.stderr
    return result


def _calls(tree):
    return (tree / 'calls.log').read_text() if (tree / 'calls.log').exists() else ''


@pytest.mark.parametrize('failing', ['yamllint', 'ansible-lint', 'antsibull-changelog'])
def test_any_failing_lint_step_fails_the_tier(tree, failing):
    result = _dev(tree, 'lint', fail=failing)
    assert result.returncode != 0, result.output
    assert 'failing on purpose' in result.output


def test_lint_passes_when_every_step_passes(tree):
    result = _dev(tree, 'lint')
    assert result.returncode == 0, result.output
    assert [line.split()[1] for line in _calls(tree).splitlines()] == ['yamllint', 'ansible-lint', 'antsibull-changelog']


def test_a_failed_scenario_is_reported_by_name_and_the_rest_still_run(tree):
    result = _dev(tree, 'molecule', fail='molecule:broken')
    assert result.returncode != 0, result.output
    assert 'scenario broken: FAILED' in result.output
    assert 'scenario alpha: ok' in result.output
    assert 'scenario zulu: ok' in result.output  # ran after the failure: its success hides nothing
    assert 'scenarios: 2 passed, 1 failed' in result.output


def test_a_failed_scenario_is_explained_after_the_table_and_its_log_kept(tree):
    result = _dev(tree, 'molecule', fail='molecule:broken')
    err = result.stderr
    assert err.index('Why scenario broken failed') > err.index('scenarios: 2 passed, 1 failed'), err
    # The stub's failure line, from the kept log (it has no Ansible failure block: the digest shows the log's tail).
    assert 'failing on purpose' in err[err.index('Why scenario broken failed'):]
    assert 'failing on purpose' in (tree / '.cache' / 'logs' / 'molecule-broken.log').read_text()
    assert 'Why scenario alpha' not in err


def test_the_whole_run_reports_failed_tiers_and_exits_non_zero(tree):
    result = _dev(tree, 'test', fail='yamllint molecule:broken', tiers='lint unit molecule')
    assert result.returncode != 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == 'tiers: 2 passed, 2 failed'
    # Each tier's and scenario's time on the line before (stop 36's CI log kept its tail only: not where 82 min went).
    assert re.match(r'times: lint \d+s unit \d+s molecule \d+s \(alpha \d+s, broken \d+s, zulu \d+s\); total \d+ s$', lines[-2]), lines[-2]
    table = dict((line.split()[0], line.split()[1]) for line in lines if line.split() and line.split()[0] in ('lint', 'unit', 'molecule', 'host-guard'))
    assert table == {'lint': 'FAILED', 'unit': 'ok', 'molecule': 'FAILED', 'host-guard': 'ok'}


def test_a_failed_tier_is_explained_under_the_tier_table_and_its_log_kept(tree):
    # Stop 34's CI log kept only its tail: "unit FAILED" and not which test.
    result = _dev(tree, 'test', fail='python molecule:broken', tiers='lint unit molecule')
    assert result.returncode != 0, result.output
    err = result.stderr
    why_unit, why_molecule = err.index('Why tier unit failed'), err.index('Why tier molecule failed')
    assert why_unit < why_molecule
    assert 'failing on purpose' in err[why_unit:why_molecule]
    assert 'failing on purpose' in err[why_molecule:]
    assert 'Why tier lint' not in err
    # Inside the whole run the scenario's own digest is left to the gate (not printed twice).
    assert 'Why scenario broken failed' not in err
    logs = tree / '.cache' / 'logs'
    assert 'failing on purpose' in (logs / 'tier-unit.log').read_text()
    assert (logs / 'tier-lint.log').exists() and (logs / 'molecule-broken.log').exists()
    assert result.stdout.strip().splitlines()[-1] == 'tiers: 2 passed, 2 failed'


def test_a_clean_run_passes(tree):
    result = _dev(tree, 'test', tiers='lint unit molecule')
    assert result.returncode == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == 'tiers: 4 passed, 0 failed'


def test_usage_comes_from_the_marked_block(tree):
    result = _dev(tree)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == 'Usage: scripts/dev COMMAND'
    assert '  test      all of the above' in result.stderr
    assert '---' not in result.stderr


@pytest.mark.parametrize('failing', ['yamllint', 'ansible-lint'])
def test_a_failing_first_step_fails_its_tier_inside_the_whole_run(tree, failing):
    # The old gate counted only a tier's last step (antsibull-changelog lint) inside `test`.
    result = _dev(tree, 'test', fail=failing, tiers='lint')
    assert result.returncode != 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split()[:2] for line in lines[:-2]] == [['Tier', 'result'], ['lint', 'FAILED'], ['host-guard', 'ok']]
    assert lines[-1] == 'tiers: 1 passed, 1 failed'


FLAKY_PYTHON = """#!/bin/sh
# Stub python: pytest's first run fails one test (recorded as pytest's cache does), its rerun passes or fails
# ($GATE_RERUN); `python -c` runs the real interpreter.
echo "stub python $*" >> "$GATE_LOG"
case "$1" in -c) exec /usr/bin/python3 "$@" ;; esac
case " $* " in
  *" --cache-clear "*)
    mkdir -p .pytest_cache/v/cache
    echo '{"tests/unit/test_x.py::test_sometimes": true}' > .pytest_cache/v/cache/lastfailed
    echo "FAILED tests/unit/test_x.py::test_sometimes - assert 0"; exit 1 ;;
  *" --last-failed "*) [ "$GATE_RERUN" = pass ] && exit 0; echo "FAILED tests/unit/test_x.py::test_sometimes - assert 0 again"; exit 1 ;;
esac
exit 0
"""


@pytest.mark.parametrize('rerun', ['pass', 'fail'])
def test_a_unit_test_that_passes_when_run_again_is_named_flaky(tree, rerun):
    stub = tree / '.venv' / 'bin' / 'python'
    stub.write_text(FLAKY_PYTHON)
    result = _dev(tree, 'test', tiers='unit', GATE_RERUN=rerun)
    calls = _calls(tree)
    assert '--last-failed' in calls and '-p no:xdist' in calls, calls
    table = [line for line in result.stdout.splitlines() if line.startswith('unit ')]
    if rerun == 'pass':
        assert result.returncode == 0, result.output
        assert table[0].split()[1] == 'ok'
        assert table[0].endswith('flaky, passed when run again: tests/unit/test_x.py::test_sometimes'), table
        assert (tree / '.cache' / 'logs' / 'unit-flaky.txt').read_text() == 'tests/unit/test_x.py::test_sometimes\n'
    else:
        assert result.returncode != 0, result.output
        assert table[0].split()[1] == 'FAILED' and 'flaky' not in table[0]
        assert 'assert 0 again' in result.stderr[result.stderr.index('Why tier unit failed'):]


@pytest.mark.parametrize('fail', ['', 'molecule:zulu'])
def test_a_scenario_run_beside_the_other_tiers_counts_in_the_molecule_tier(tree, fail):
    # ONPREM_BESIDE_SCENARIOS (the appliance by default): started with the first tier after lint, waited for by the
    # molecule tier, which shows its output, keeps it in its log, reports its time and fails when it failed.
    result = _dev(tree, 'test', fail=fail, tiers='lint unit molecule', ONPREM_BESIDE_SCENARIOS='zulu')
    lines = result.stdout.strip().splitlines()
    assert re.match(r'times: lint \d+s unit \d+s molecule \d+s \(zulu \d+s, alpha \d+s, broken \d+s\); total \d+ s$', lines[-2]), lines[-2]
    assert _calls(tree).count('stub molecule test -s zulu') == 1, _calls(tree)
    assert 'molecule: zulu: started now' in result.stderr
    calls = _calls(tree).splitlines()
    # Started after lint's steps, not beside them (ansible-lint and Molecule share ansible-compat's collection cache).
    assert calls.index('stub molecule test -s zulu') > max(i for i, c in enumerate(calls) if 'antsibull-changelog' in c)
    log = (tree / '.cache' / 'logs' / 'tier-molecule.log').read_text()
    table = dict((line.split()[0], line.split()[1]) for line in lines if line.split() and line.split()[0] in ('unit', 'molecule'))
    if fail:
        assert result.returncode != 0, result.output
        assert table == {'unit': 'ok', 'molecule': 'FAILED'}
        assert 'scenario zulu: FAILED' in log and 'failing on purpose' in log
        assert 'failing on purpose' in result.stderr[result.stderr.index('Why tier molecule failed'):]
    else:
        assert result.returncode == 0, result.output
        assert table == {'unit': 'ok', 'molecule': 'ok'}
        assert 'scenario zulu: ok' in log and 'scenario alpha: ok' in log
