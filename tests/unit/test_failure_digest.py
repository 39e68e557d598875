"""scripts/failure-digest: the cause of a failed scenario, kept whole at the end of a log that CI cuts.

The sample is ansible-core 2.19's default callback with callback_result_format=yaml (the format .config/molecule
sets) for molecule/vm/create.yml's "Wait for each platform's SSH" loop failing, recorded on 2026-12-05 with a stand-in
command; CI's stop-33 log kept only "Ansible return code was 2" of such a failure.
"""

import importlib.machinery
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_loader = importlib.machinery.SourceFileLoader('failure_digest', os.path.join(ROOT, 'scripts', 'failure-digest'))
_spec = importlib.util.spec_from_loader('failure_digest', _loader)
failure_digest = importlib.util.module_from_spec(_spec)
_loader.exec_module(failure_digest)

CONSOLE = ''.join('        console line %d\n' % i for i in range(1, 31))
SAMPLE = """
PLAY [Create the VM lab instances] *********************************************

TASK [Boot each platform] ******************************************************
changed: [localhost] => (item=os-tuning-vm)

TASK [Wait for each platform's SSH] ********************************************
[ERROR]: Task failed: Module failed: non-zero return code
Origin: /tmp/fail.yml:12:7

failed: [localhost] (item=os-tuning-vm) =>{SP}
    ansible_job_id: j779943338427.32447
    ansible_loop_var: item
    attempts: 1
    changed: true
    cmd:
    - /x/scripts/vm/lab-vm
    - up
    finished: true
    item:
        ansible_job_id: j779943338427.32447
        item: os-tuning-vm
    msg: non-zero return code
    rc: 1
    stderr: |-
""" + CONSOLE + """        [vm-lab] ERROR: VM os-tuning-vm did not come up in 2 tries
    stderr_lines: <omitted>
    stdout: ''
    stdout_lines: <omitted>

PLAY RECAP *********************************************************************
localhost                  : ok=1    changed=1    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0
ERROR    Ansible return code was 2, command was: ansible-playbook create.yml
"""
SAMPLE = SAMPLE.replace('{SP}', ' ')  # Ansible ends a failure line with a space


def test_the_cause_the_task_and_the_last_stderr_lines_are_kept():
    out = failure_digest.digest(SAMPLE.splitlines(True))
    text = '\n'.join(out)
    assert "--- task: Wait for each platform's SSH" in out
    assert 'failed: [localhost] (item=os-tuning-vm) => ' in out
    assert '    msg: non-zero return code' in out
    assert '        [vm-lab] ERROR: VM os-tuning-vm did not come up in 2 tries' in out
    # The last 25 lines of stderr: console lines 7-30 and the error.
    assert '        console line 7' in out and '        console line 30' in out
    assert '        console line 6' not in out and '    [... 6 lines ...]' in out
    # Left out: the copies and the loop's bookkeeping.
    assert 'stderr_lines' not in text and 'ansible_job_id' not in text and 'item:' not in text
    assert out[-1] == 'ERROR    Ansible return code was 2, command was: ansible-playbook create.yml'


def test_pytest_assertions_and_summary_lines_are_kept():
    log = ['tests/test_x.py F\n', 'E   AssertionError: 0.0 Gb/s\n', 'E   assert 0.0 > 0\n', 'other\n',
           'FAILED tests/test_x.py::test_figures - AssertionError: 0.0 Gb/s\n']
    assert failure_digest.digest(log) == [l.rstrip('\n') for l in log if not l.startswith(('tests/', 'other'))]


def test_the_digest_is_bounded_in_lines_and_characters():
    log = ['E   %s\n' % ('x' * 1000)] * 500
    out = failure_digest.digest(log)
    assert all(len(line) <= 306 for line in out)
    assert sum(len(line) + 1 for line in out) <= 6000 + 60
    assert out[-1].startswith('[... ') and out[-1].endswith('more lines in the log ...]')
    assert len(failure_digest.digest(['E   y\n'] * 500, max_lines=10)) == 11


def test_a_log_without_a_known_failure_line_shows_its_tail(tmp_path, capsys):
    log = tmp_path / 'x.log'
    log.write_text(''.join('line %d\n' % i for i in range(40)))
    assert failure_digest.main([str(log)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith('(no Ansible failure') and out[-1] == 'line 39' and len(out) == 21


def test_a_failure_in_a_molecule_run_is_headed_by_its_scenario_and_step():
    # `scripts/dev test` digests a whole tier's log: several scenarios, each step announced by Molecule's INFO line.
    before = ['INFO     [default > converge] Executing\n', 'ok: [h]\n', 'INFO     [vm > create] Executing\n']
    after = ['INFO     [vm > verify] Executing\n', 'E   assert 1 == 2\n', 'E   assert 3 == 4\n']
    log = before + SAMPLE.splitlines(True) + after
    out = failure_digest.digest(log)
    assert out[0] == '=== vm > create'
    assert "--- task: Wait for each platform's SSH" in out
    assert out.count('=== vm > verify') == 1 and out.index('=== vm > verify') == out.index('E   assert 1 == 2') - 1
    assert '=== default > converge' not in out


def test_the_character_bound_can_be_set(tmp_path, capsys):
    log = tmp_path / 'x.log'
    log.write_text('E   %s\n' % ('z' * 200) * 100)
    assert failure_digest.main([str(log), '--max-chars', '1000']) == 0
    out = capsys.readouterr().out
    assert len(out) <= 1000 + 60 and out.rstrip().endswith('more lines in the log ...]')
