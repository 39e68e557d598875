"""deployment.deployment_plan / deployment_hosts: the one path from inventory settings to the plan.

The plans themselves are gpu_plan's (tested with cited numbers in test_sizing*.py); these tests pin what
this layer decides: defaults, the host count, the skip, and which arguments reach gpu_plan.
"""

import pytest

from ansible_collections.onprem.deepseek.plugins.module_utils import common, deployment, layout


def test_hosts_without_a_deployment_are_the_default_one():
    hosts = {'a': None, 'b': '', 'c': 'v3', 'd': 'default'}
    assert deployment.deployment_hosts(hosts) == ['a', 'b', 'd']
    assert deployment.deployment_hosts(hosts, 'v3') == ['c']


def test_nothing_to_plan_without_model_or_gpu():
    for given in ({}, {'model': 'deepseek-v3'}, {'gpu': 'H100-80G'}, {'model': '', 'gpu': 'H100-80G'}):
        plan = deployment.deployment_plan(given)
        assert plan['skipped'] and plan['fits'] and plan['gpus'] == 0


def test_defaults_and_strings_from_the_inventory_are_gpu_plans_arguments():
    # inventory values arrive as strings after templating; max_nodes 0 = the deployment's hosts
    given = {'model': 'deepseek-v3', 'gpu': 'H100-80G', 'quant': 'fp8', 'max_nodes': '0', 'gpus_per_node': '8',
             'dp_attention': 'false', 'overhead_gib': '', 'engine': 'vllm'}
    expected = layout.gpu_plan('deepseek-v3', 'H100-80G', quant='fp8', max_nodes=2, engine='vllm')
    assert deployment.deployment_plan(given, hosts=2) == expected


def test_overhead_and_llama_cpp_reach_the_plan():
    plan = deployment.deployment_plan({'model': 'deepseek-r1-distill-qwen-32b', 'gpu': 'L40S', 'quant': 'awq',
                                       'overhead_gib': 6, 'engine': 'llama_cpp'})
    assert plan['overhead_gib'] == 6.0 and plan['engine'] == 'llama_cpp'


def test_unknown_setting_and_bad_values_are_named():
    with pytest.raises(common.SizingError, match='unknown deployment setting'):
        deployment.deployment_plan({'model': 'deepseek-v3', 'gpu': 'H100-80G', 'gpu_count': 8})
    with pytest.raises(common.SizingError, match='deepseek_dp_attention must be true or false'):
        deployment.deployment_plan({'model': 'deepseek-v3', 'gpu': 'H100-80G', 'dp_attention': 'maybe'})
    with pytest.raises(common.SizingError, match='deepseek_concurrency must be a number'):
        deployment.deployment_plan({'model': 'deepseek-v3', 'gpu': 'H100-80G', 'concurrency': 'lots'})


def test_a_checkpoint_path_is_read_on_the_controller(tmp_path):
    with pytest.raises(common.SizingError, match='cannot read'):
        deployment.deployment_plan({'model': str(tmp_path), 'gpu': 'H100-80G'})


@pytest.mark.parametrize('value, expected', [('yes', True), ('on', True), ('t', True), (1, True), ('no', False), ('off', False),
                                             ('f', False), ('', False), (0, False)])
def test_dp_attention_reads_booleans_as_ansible_does(value, expected):
    # ansible.module_utils.parsing.convert_bool.boolean's spellings (the same a `| bool` in a role accepts); blank is false
    assert deployment._bool('dp_attention', value) is expected
