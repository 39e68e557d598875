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


# unsloth's DeepSeek-R1 UD-IQ1_S (a mixed "dynamic" GGUF quant, no single bits per weight): 131GB as unsloth publishes it
# (https://huggingface.co/unsloth/DeepSeek-R1-GGUF, "1.58-bit UD-IQ1_S ... 131GB"), here as three split files.
R1_UD_IQ1_S = [
    {'name': 'DeepSeek-R1-UD-IQ1_S-00001-of-00003.gguf', 'sha256': 'a' * 64, 'size': 50000000000},
    {'name': 'DeepSeek-R1-UD-IQ1_S-00002-of-00003.gguf', 'sha256': 'b' * 64, 'size': 50000000000},
    {'name': 'DeepSeek-R1-UD-IQ1_S-00003-of-00003.gguf', 'sha256': 'c' * 64, 'size': '31GB'},
    {'name': 'README.md', 'sha256': 'd' * 64},
]


def test_model_store_manifest_sizes_the_weights():
    assert deployment.manifest_weights_bytes(R1_UD_IQ1_S) == 131 * 10 ** 9
    given = {'model': 'deepseek-r1', 'gpu': 'H200', 'quant': 'iq1_s', 'max_model_len': 8192, 'model_store_manifest': R1_UD_IQ1_S}
    plan = deployment.deployment_plan(given)
    expected = layout.gpu_plan({'model': 'deepseek-r1', 'weights_bytes': 131 * 10 ** 9}, 'H200', quant='iq1_s', max_model_len=8192,
                               max_nodes=1, engine='vllm')  # deployment's default engine
    assert plan == expected
    assert plan['weights_total_gib'] == pytest.approx(131e9 / 2 ** 30, abs=0.01)
    # an explicit weights_bytes wins over the manifest
    plan = deployment.deployment_plan(dict(given, weights_bytes='140GB'))
    assert plan['weights_total_gib'] == pytest.approx(140e9 / 2 ** 30, abs=0.01)


def test_a_manifest_without_every_weight_size_leaves_the_estimate():
    partial = [dict(entry) for entry in R1_UD_IQ1_S]
    del partial[0]['size']
    assert deployment.manifest_weights_bytes(partial) is None
    assert deployment.manifest_weights_bytes([{'name': 'README.md', 'size': 10}]) is None
    assert deployment.manifest_weights_bytes(None) is None
    given = {'model': 'deepseek-r1', 'gpu': 'H200', 'quant': 'iq1_s', 'max_model_len': 8192}
    assert deployment.deployment_plan(dict(given, model_store_manifest=partial)) == deployment.deployment_plan(given)
    with pytest.raises(common.SizingError) as err:
        deployment.manifest_weights_bytes('not-a-list')
    assert str(err.value).startswith('model_store_manifest must be a list of {name, sha256, size}')
