"""The engine flags of the sizing plan and of the inference role, checked against the engines themselves.

The reference is what the pinned releases accept, read from their wheels by scripts/engine-flags
into tests/unit/fixtures/engine_flags/ (see the README there): not what this collection believes.
Every flag must exist upstream; a bare flag must be a switch upstream (store_true or
BooleanOptionalAction), a valued one must take a value, and the value must be one of the engine's
choices where it lists them. Nothing is downloaded here: only the committed fixtures are read.
"""

import functools
import glob
import importlib
import json
import os
import re
import shlex
import sys

import pytest
import yaml

from ansible_collections.onprem.deepseek.plugins.module_utils import engines, sizing

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
FIXTURES = os.path.join(HERE, 'fixtures', 'engine_flags')
GPU_ENGINES = ('vllm', 'sglang')


def _render_module():
    """tests/unit/roles/inference_render.py, imported under the name its own tests use (one render cache)."""
    path = os.path.join(HERE, 'roles')
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module('inference_render')


@functools.lru_cache(maxsize=None)
def _fixtures():
    out = {}
    for path in sorted(glob.glob(os.path.join(FIXTURES, '*.json'))):
        with open(path) as handle:
            data = json.load(handle)
        assert data['engine'] not in out, 'two fixtures of %s: %s' % (data['engine'], path)
        out[data['engine']] = data
    return out


def _allowed(spec):
    """The values upstream accepts for a flag (choices, or the list checked after parsing); None: any."""
    later = spec.get('values_checked_later') or {}
    values = spec['choices'] if spec['choices'] is not None else later.get('values')
    return None if values is None else [str(v) for v in values]


def check_flag(engine, flag, value):
    """A plan's {flag: value} entry against the engine's fixture: a sentence per problem."""
    spec = _fixtures()[engine]['flags'].get(flag)
    if spec is None:
        return ['%s is not a flag of %s %s' % (flag, engine, _fixtures()[engine]['version'])]
    if value is True:
        if spec['takes_value'] and spec.get('nargs') not in ('?', '*'):
            return ['%s is given bare, but %s %s needs a value for it' % (flag, engine, _fixtures()[engine]['version'])]
        return []
    if not spec['takes_value']:
        return ['%s takes no value in %s, the plan gives %r' % (flag, engine, value)]
    allowed = _allowed(spec)
    if allowed is not None and str(value) not in allowed:
        return ['%s %s is not one of %s\'s values %s' % (flag, value, engine, allowed)]
    return []


def check_argv(engine, tokens):
    """The arguments after the program (and subcommand) of one command line: a sentence per problem."""
    fixture = _fixtures()[engine]
    flags = fixture['flags']
    problems, positionals, index = [], [], 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith('-') or token == '-':
            positionals.append(token)
            continue
        name, equals, inline = token.partition('=')
        spec = flags.get(name)
        if spec is None:
            problems.append('%s is not a flag of %s %s' % (name, engine, fixture['version']))
            continue
        if not spec['takes_value']:
            if equals:
                problems.append('%s takes no value in %s, the command line gives %r' % (name, engine, inline))
            continue
        nargs = spec.get('nargs')
        if equals:
            values = [inline]
        else:
            following = []
            while index + len(following) < len(tokens) and not tokens[index + len(following)].startswith('-'):
                following.append(tokens[index + len(following)])
            # argparse: one value by default, '?' zero or one, '*' / '+' all that follow, N exactly N.
            count = {None: 1, '?': 1, '*': len(following), '+': len(following)}.get(nargs, nargs)
            required = {None: 1, '?': 0, '*': 0, '+': 1}.get(nargs, nargs)
            values = following[:count]
            index += len(values)
            if len(values) < required:
                problems.append('%s needs a value in %s' % (name, engine))
                continue
        allowed = _allowed(spec)
        for value in values:
            if allowed is not None and value not in allowed:
                problems.append('%s %s is not one of %s\'s values %s' % (name, value, engine, allowed))
    if len(positionals) > len(fixture['positionals']):
        problems.append('%s takes %d positional argument(s), the command line has %s (a value after a switch?)'
                        % (engine, len(fixture['positionals']), positionals))
    return problems


PROGRAMS = ((('vllm', 'serve'), 'vllm'), (('python3', '-m', 'sglang.launch_server'), 'sglang'), (('ray', 'start'), 'ray'))


def split_commands(argv):
    """[(engine, arguments)] of a container's argv; a `bash -c` script is split with shlex at `&&`."""
    if os.path.basename(argv[0]) == 'bash':
        assert argv[1] == '-c' and len(argv) == 3, argv
        commands, current = [], []
        for token in shlex.split(argv[2]) + ['&&']:
            if token == '&&':
                commands.append(current[1:] if current[:1] == ['exec'] else current)
                current = []
            else:
                assert token not in ('||', ';', '|', '&'), 'unexpected shell operator in %r' % argv[2]
                current.append(token)
    else:
        commands = [list(argv)]
    out = []
    for command in commands:
        for program, engine in PROGRAMS:
            if tuple(command[:len(program)]) == program:
                out.append((engine, command[len(program):]))
                break
        else:
            raise AssertionError('not a command of a pinned engine: %r' % (command,))
    return out


# -- the fixtures are those of the pins -----------------------------------------------------------

def test_fixtures_are_those_of_the_pinned_engines():
    fixtures = _fixtures()
    assert sorted(fixtures) == ['ray', 'sglang', 'vllm'], 'run scripts/engine-flags (tests/unit/fixtures/engine_flags/README.md)'
    with open(os.path.join(ROOT, 'roles', 'inference', 'defaults', 'main.yml')) as handle:
        images = yaml.safe_load(handle)['inference_images']
    for engine in GPU_ENGINES:
        spec = engines.engine_spec(engine)
        fixture = fixtures[engine]
        # A pin changed without `scripts/engine-flags`: the fixtures describe another release.
        assert fixture['version'] == spec['version'], 'run scripts/engine-flags: %s is pinned at %s, its fixture is %s' % (
            engine, spec['version'], fixture['version'])
        assert fixture['image'] == spec['image']
        assert re.search(r':v?%s(-|$)' % re.escape(spec['version']), spec['image']), spec['image']
        # inference_images takes the table's image (or repeats it).
        assert 'engine_spec' in images[engine] or images[engine] == spec['image'], images[engine]
    assert fixtures['ray']['image'] == engines.engine_spec('vllm')['image']  # the Ray that vLLM's image runs
    for engine, fixture in fixtures.items():
        source = fixture['source']
        assert source['wheel'].startswith('%s-%s-' % (engine, fixture['version'])) and source['wheel'].endswith('.whl')
        assert re.match(r'^[0-9a-f]{64}$', source['sha256'])
        assert source['url'].startswith('https://files.pythonhosted.org/') and source['url'].endswith('/' + source['wheel'])
        assert os.path.basename(fixture_path(engine)) == '%s-%s.json' % (engine, fixture['version'])


def fixture_path(engine):
    return [p for p in glob.glob(os.path.join(FIXTURES, '*.json')) if os.path.basename(p).startswith(engine + '-')][0]


def test_fixtures_hold_what_the_engines_are_known_to_accept():
    """Spot checks against the engines' documentation, so that a broken extraction cannot pass as empty."""
    vllm, sglang, ray = (_fixtures()[e]['flags'] for e in ('vllm', 'sglang', 'ray'))
    assert vllm['--tensor-parallel-size']['takes_value'] and '-tp' in vllm['--tensor-parallel-size']['aliases']
    assert not vllm['--enable-expert-parallel']['takes_value'] and not vllm['--no-enable-expert-parallel']['takes_value']
    assert not vllm['--headless']['takes_value']
    assert 'fp8' in vllm['--kv-cache-dtype']['choices'] and 'fp8_e4m3' in vllm['--kv-cache-dtype']['choices']
    assert 'compressed-tensors' in vllm['--quantization']['values_checked_later']['values']
    assert not sglang['--enable-dp-attention']['takes_value'] and sglang['--tp-size']['aliases'] == ['--tensor-parallel-size']
    assert sglang['--kv-cache-dtype']['choices'] == ['auto', 'fp8_e5m2', 'fp8_e4m3', 'bf16', 'bfloat16']
    assert not ray['--head']['takes_value'] and not ray['--block']['takes_value'] and ray['--address']['takes_value']
    # --include-dashboard is a bool *value* in Ray (type=bool), not a switch.
    assert ray['--include-dashboard']['takes_value']


# -- the checks bite ------------------------------------------------------------------------------

@pytest.mark.parametrize('engine, tokens, problem', [
    ('vllm', ['/models', '--enable-expert-parallel', 'true'], 'positional argument'),
    ('vllm', ['/models', '--tensor-parallel-size'], '--tensor-parallel-size needs a value'),
    ('vllm', ['/models', '--kv-cache-dtype', 'fp8_e4m3fn'], 'fp8_e4m3fn is not one of'),
    ('vllm', ['/models', '--quantization', 'w8a8_int8'], 'w8a8_int8 is not one of'),
    ('vllm', ['/models', '--tp-size', '8'], '--tp-size is not a flag of vllm'),
    ('sglang', ['--dp-attention'], '--dp-attention is not a flag of sglang'),
    ('sglang', ['--kv-cache-dtype', 'fp8'], 'fp8 is not one of'),
    ('ray', ['--head=true'], '--head takes no value'),
    ('ray', ['--node-ip'], '--node-ip is not a flag of ray'),
])
def test_the_command_line_check_finds_what_upstream_refuses(engine, tokens, problem):
    problems = check_argv(engine, tokens)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize('engine, flag, value, problem', [
    ('vllm', '--enable-expert-parallel', 1, 'takes no value'),
    ('vllm', '--max-model-len', True, 'needs a value'),
    ('sglang', '--quantization', 'compressed-tensors-w8', 'is not one of'),
    ('sglang', '--data-parallel-size-local', 8, 'is not a flag of sglang'),
])
def test_the_plan_check_finds_what_upstream_refuses(engine, flag, value, problem):
    assert any(problem in p for p in check_flag(engine, flag, value))


# -- the sizing plan's flags ----------------------------------------------------------------------

GPUS = ('H100-80G', 'L40S', 'A100-80G', 'MI300X')
QUANTS = (None, 'fp8', 'int8', 'awq', 'gptq', 'fp16', 'q4_k_m')


def _plans(model):
    """Every (label, plan) of `model` over GPUS x QUANTS x dp_attention x max_nodes (and an FP8 KV cache)."""
    out = []
    for gpu in GPUS:
        for quant in QUANTS:
            for kv_dtype in (('auto', 'fp8') if quant is None else ('auto',)):
                for dp_attention in (False, True):
                    for max_nodes in (1, 2):
                        label = '%s on %s quant=%s kv=%s dp_attention=%s max_nodes=%d' % (
                            model, gpu, quant, kv_dtype, dp_attention, max_nodes)
                        try:
                            plan = sizing.gpu_plan(model, gpu, quant=quant, kv_dtype=kv_dtype, max_nodes=max_nodes,
                                                   dp_attention=dp_attention, suggest=False)
                        except sizing.SizingError:
                            continue  # a combination the planner refuses has no flags
                        out.append((label, plan))
                        if plan.get('dp_attention_layout'):
                            out.append((label + ' (its dp_attention_layout)', plan['dp_attention_layout']))
    return out


@pytest.mark.parametrize('model', sizing.model_names())
def test_every_plan_flag_exists_upstream_with_the_right_kind_and_value(model):
    problems, checked = [], 0
    for label, plan in _plans(model):
        for engine in GPU_ENGINES:
            for flag, value in (plan.get('engine_args') or {}).get(engine, {}).items():
                if value is None or value is False:
                    continue  # left out of the command line (sizing.argv)
                checked += 1
                problems += ['%s, %s: %s' % (label, engine, p) for p in check_flag(engine, flag, value)]
    assert checked, 'no plan of %s had engine flags: the matrix checks nothing' % model
    assert not problems, '\n'.join(sorted(set(problems))[:40])


# -- the role's rendered command lines -----------------------------------------------------------

def _layout_names():
    render = _render_module()
    names = [render.layout_name(layout, 'podman') for layout in render.GPU_LAYOUTS]
    return names + [render.layout_name(layout, 'docker') for layout in render.DOCKER_LAYOUTS]


@pytest.mark.parametrize('layout', _layout_names())
def test_every_rendered_flag_exists_upstream(layout):
    nodes = _render_module().rendered_layouts()[layout]
    assert 'error' not in nodes, nodes.get('error')
    problems, seen = [], []
    for host, node in sorted(nodes.items()):
        run = node['run']
        argv = [run[run.index('--entrypoint') + 1]] + node['args']
        for engine, tokens in split_commands(argv):
            seen.append(engine)
            problems += ['%s (%s): %s' % (host, ' '.join(argv)[:120], p) for p in check_argv(engine, tokens)]
    engine = _render_module().GPU_LAYOUTS[layout.rsplit('-', 1)[0]][0]
    assert engine in seen, (engine, seen)
    if layout.startswith('vllm-ray'):
        assert seen.count('ray') == 2, seen  # ray start on the head (in bash -c) and on the worker
    assert not problems, '\n'.join(problems)
