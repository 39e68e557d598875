# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""onprem.deepseek.appliance refuses bad input before it builds anything, naming each variable, value and what is allowed.

The build itself (mmdebstrap, the disk, the GRUB boot) and the boots are the Molecule scenario `appliance`.
"""

import json
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def _playbook(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    result = subprocess.run(['ansible-playbook', 'playbooks/appliance.yml'] + list(args), cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    result.output = result.stdout + result.stderr
    return result


def test_syntax():
    result = _playbook('--syntax-check')
    assert result.returncode == 0, result.output


def test_bad_input_is_refused_naming_each_variable_and_nothing_is_built(tmp_path):
    result = _playbook('-e', 'appliance_image_dir=relative/out',
                       '-e', 'appliance_image_esp_mib=16', '-e', 'appliance_image_root_mib=100',
                       '-e', 'appliance_image_data_src=%s' % (tmp_path / 'missing'))
    assert result.returncode != 0
    text = ' '.join(result.output.split())
    assert ('localhost: appliance_image: appliance_image_dir=relative/out is not absolute. '
            'appliance_image_esp_mib=16: at least 34 (FAT32 needs 32 MiB and more). '
            'appliance_image_root_mib=100: 0 (automatic) or at least 1024.') in text, result.output
    assert 'Make the root file system' not in text
    assert not os.path.exists(os.path.join(ROOT, 'relative'))


def test_a_data_source_that_is_not_a_directory_is_refused(tmp_path):
    result = _playbook('-e', 'appliance_image_dir=%s' % (tmp_path / 'out'), '-e', 'appliance_image_data_src=%s' % (tmp_path / 'missing'))
    assert result.returncode != 0
    assert 'appliance_image_data_src=%s is not a directory.' % (tmp_path / 'missing') in result.output, result.output
    assert not (tmp_path / 'out').exists()


def test_no_directory_is_refused():
    result = _playbook()
    assert result.returncode != 0
    assert 'appliance_image_dir is not set: the image output directory (absolute).' in result.output, result.output


def test_an_unknown_release_is_refused_by_the_argument_spec():
    result = _playbook('-e', 'appliance_image_dir=/nonexistent/out', '-e', 'appliance_image_suite=buster')
    assert result.returncode != 0
    assert 'appliance_image_suite must be one of: bookworm, trixie, got: buster' in result.output, result.output


def test_check_mode_says_it_would_build_and_builds_nothing(tmp_path):
    result = _playbook('--check', '-e', 'appliance_image_dir=%s' % (tmp_path / 'out'))
    assert result.returncode == 0, result.output
    assert 'would build %s/onprem-deepseek-appliance.raw (trixie)' % (tmp_path / 'out') in ' '.join(result.output.split()), result.output
    assert not (tmp_path / 'out').exists()


def test_the_serving_stack_needs_a_bundle_and_no_clear_key(tmp_path):
    # appliance_image_site without a data source, site variables that set what the role owns and a clear API key (every
    # copy of the image would carry it): each named, with what is allowed; the key itself is never shown.
    extra = {'appliance_image_dir': str(tmp_path / 'out'), 'appliance_image_site': True,
             'appliance_image_site_vars': {'deepseek_offline_bundle': '/x', 'gateway_api_keys': [
                 {'name': 'ops', 'key': 'clear-key-0123456789abcdef0123456789'},
                 {'name': 'lab', 'key_sha256': 'a' * 64}]}}
    (tmp_path / 'extra.json').write_text(json.dumps(extra))
    result = _playbook('-e', '@%s' % (tmp_path / 'extra.json'))
    assert result.returncode != 0
    text = ' '.join(result.output.split())
    assert 'appliance_image_site is true: appliance_image_data_src must be an offline bundle (onprem.deepseek.bundle), it is empty.' in text, result.output
    assert ('appliance_image_site_vars sets deepseek_offline_bundle: the role sets deepseek_offline_bundle, offline_bundle_sums_sha256,'
            ' ansible_connection (the bundle on the data partition, its pin).') in text
    assert ('appliance_image_site_vars.gateway_api_keys gives clear keys (ops): the image carries no secret; give key_sha256'
            ' (printf %s KEY | sha256sum) instead.') in text
    assert 'clear-key-0123' not in result.output
    assert not (tmp_path / 'out').exists()


def test_the_serving_stack_refuses_a_data_source_that_is_not_a_bundle(tmp_path):
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'bundle.json').write_text('{}')
    result = _playbook('-e', 'appliance_image_dir=%s' % (tmp_path / 'out'), '-e', 'appliance_image_data_src=%s' % (tmp_path / 'data'),
                       '-e', 'appliance_image_site=true', '-e', '{"appliance_image_site_vars": {"deepseek_engine": "llama_cpp"}}')
    assert result.returncode != 0
    text = ' '.join(result.output.split())
    assert ('appliance_image_site is true but appliance_image_data_src=%s lacks SHA256SUMS, apt/trixie/Packages: it must be an offline'
            ' bundle (onprem.deepseek.bundle) with an APT repository for appliance_image_suite=trixie (bundle_apt_suite).'
            % (tmp_path / 'data')) in text, result.output
    assert not (tmp_path / 'out').exists()


def test_the_serving_stack_refuses_a_bundle_of_another_deployment_before_building(tmp_path):
    data = tmp_path / 'data'
    (data / 'apt' / 'trixie').mkdir(parents=True)
    (data / 'apt' / 'trixie' / 'Packages').write_text('')
    (data / 'SHA256SUMS').write_text('')
    (data / 'bundle.json').write_text(json.dumps({'about': {'deployments': [{'deployment': 'other', 'model': 'm'}]}}))
    result = _playbook('-e', 'appliance_image_dir=%s' % (tmp_path / 'out'), '-e', 'appliance_image_data_src=%s' % data,
                       '-e', 'appliance_image_site=true', '-e', '{"appliance_image_site_vars": {"deepseek_engine": "llama_cpp"}}')
    assert result.returncode != 0
    text = ' '.join(result.output.split())
    assert ('appliance_image: the bundle %s holds the deployments other, not appliance_image_site_vars.deepseek_deployment=default:'
            ' build the bundle from the appliance\'s inventory.' % data) in text, result.output
    assert 'Make the root file system' not in text
    assert not (tmp_path / 'out').exists()


def test_encrypted_volumes_need_a_recovery_certificate_and_no_passphrase(tmp_path):
    # The data partition encrypted at the first boot: the passphrase is the machine's own (never in the image), escrowed
    # to the site's recovery certificate, which is then required; the data partition is encrypted in place or not at all.
    extra = {'appliance_image_dir': str(tmp_path / 'out'), 'appliance_image_site': False,
             'appliance_image_site_vars': {'encrypted_storage_passphrase': 'not-in-an-image-0123456789',
                                           'encrypted_storage_volumes': [{'name': 'data', 'device': '/dev/disk/by-partlabel/onprem-data',
                                                                          'mount': '/srv/other'}]}}
    (tmp_path / 'extra.json').write_text(json.dumps(extra))
    result = _playbook('-e', '@%s' % (tmp_path / 'extra.json'))
    assert result.returncode != 0
    text = ' '.join(result.output.split())
    assert ('appliance_image_site_vars sets encrypted_storage_passphrase: the image carries no secret; the first boot makes one per machine'
            ' and escrows it to appliance_image_recovery_certificate.') in text, result.output
    assert ('appliance_image_site_vars lists encrypted_storage_volumes but appliance_image_site is false: only the first boot site run'
            ' encrypts them.') in text
    assert ('appliance_image_site_vars lists encrypted_storage_volumes but appliance_image_recovery_certificate is empty: the passphrase'
            ' each machine makes at its first boot is escrowed to that certificate') in text
    assert ('appliance_image_site_vars.encrypted_storage_volumes encrypts the data partition (/dev/disk/by-partlabel/onprem-data) without'
            ' encrypt_in_place: true and mount /srv/deepseek') in text
    assert 'not-in-an-image' not in result.output
    assert not (tmp_path / 'out').exists()


def test_a_recovery_certificate_that_is_not_one_is_refused(tmp_path):
    (tmp_path / 'cert.pem').write_text('not a certificate\n')
    result = _playbook('-e', 'appliance_image_dir=%s' % (tmp_path / 'out'), '-e', 'appliance_image_recovery_certificate=%s' % (tmp_path / 'cert.pem'))
    assert result.returncode != 0
    text = ' '.join(result.output.split())
    assert 'appliance_image_recovery_certificate=%s is not a readable PEM certificate' % (tmp_path / 'cert.pem') in text, result.output
    assert not (tmp_path / 'out').exists()


def test_a_gpu_engine_is_refused_naming_what_a_gpu_image_lacks(tmp_path):
    # The serving stack of a GPU engine (vllm: also the inference role's default when deepseek_engine is unset) would need
    # the NVIDIA driver's module built for the image's kernel and signed for Secure Boot: not built by the role, so refused
    # before anything is built rather than an image that cannot serve.
    for site_vars, shown in (({'deepseek_engine': 'sglang'}, 'deepseek_engine=sglang needs GPUs'),
                             ({}, 'deepseek_engine=vllm (the default when unset) needs GPUs')):
        (tmp_path / 'extra.json').write_text(json.dumps({'appliance_image_dir': str(tmp_path / 'out'), 'appliance_image_site': True,
                                                         'appliance_image_data_src': str(tmp_path), 'appliance_image_site_vars': site_vars}))
        result = _playbook('-e', '@%s' % (tmp_path / 'extra.json'))
        assert result.returncode != 0
        text = ' '.join(result.output.split())
        assert ('appliance_image_site_vars.' + shown + ': the role builds CPU appliances (deepseek_engine: llama_cpp).') in text, result.output
        assert 'install GPU machines with onprem.deepseek.site from the offline bundle (docs/offline.md)' in text
        assert not (tmp_path / 'out').exists()
