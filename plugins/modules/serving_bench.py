#!/usr/bin/python
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE) or GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt),
# at your option: modules are dual-licensed so that they combine with Ansible's GPLv3 module code.

from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
module: serving_bench
short_description: Load test of an OpenAI-compatible endpoint with streamed chat completions at a few concurrency levels
version_added: 0.1.0
description:
  - Sends streamed C(/v1/chat/completions) requests to O(url) at each level of O(concurrency) in turn (lowest first),
    and measures per level the time to first token (TTFT), the inter-token latency (ITL, gaps between streamed content
    chunks), output tokens per second (completion tokens of the level over its wall time), request latency p50 and p99,
    and the errors by kind (HTTP status, timeout, TLS).
  - Bounded by construction; each level sends at most max(O(requests), 2 x concurrency) requests and starts none after
    O(max_seconds); each request gives up after O(timeout) seconds without a byte.
  - Python standard library only, so that it runs on any managed host; the established tools (guidellm, aiperf,
    C(vllm bench serve)) pull in torch or transformers (docs/monitoring.md says how to run one instead).
author:
  - onprem.deepseek contributors (@onprem-deepseek)
options:
  url:
    description:
      - Base URL of the endpoint, C(https://host[:port]) or the gateway's C(gateway_endpoint) ending in C(/v1).
    type: str
    required: true
  api_key:
    description:
      - Bearer key sent with every request (never logged).
    type: str
    required: true
  model:
    description:
      - Model name to ask for (the engine's served model name).
    type: str
    required: true
  ca_path:
    description:
      - PEM file of the CA that signed the endpoint's certificate; empty uses the system's trust store.
    type: path
  validate_certs:
    description:
      - Verify the endpoint's certificate and name.
    type: bool
    default: true
  concurrency:
    description:
      - Concurrency levels, whole numbers of 1 or more.
    type: list
    elements: int
    default: [1, 2, 4]
  requests:
    description:
      - Requests per level (at least twice the level's concurrency are sent).
    type: int
    default: 16
  max_seconds:
    description:
      - Seconds after which a level starts no new request.
    type: float
    default: 60
  max_tokens:
    description:
      - Output tokens each request asks for at most.
    type: int
    default: 64
  prompt:
    description:
      - The user message; empty uses a fixed question of about 30 tokens.
    type: str
    default: ""
  timeout:
    description:
      - Seconds a request waits for the next byte before it counts as an error.
    type: float
    default: 120
extends_documentation_fragment: []
attributes:
  check_mode:
    support: none
    description: Sends real requests; skipped in check mode.
  diff_mode:
    support: none
    description: Changes nothing.
notes:
  - The logic is in C(plugins/module_utils/serving_bench.py), tested against a local fake server that streams
    server-sent events.
"""

EXAMPLES = r"""
- name: Load test through the gateway at 1, 2 and 4 concurrent requests
  onprem.deepseek.serving_bench:
    url: "https://127.0.0.1:443"
    ca_path: /etc/onprem-deepseek/gateway-ca.crt
    api_key: "{{ vault_bench_key }}"
    model: deepseek
    concurrency: [1, 2, 4]
  no_log: true
"""

RETURN = r"""
levels:
  description: One entry per concurrency level.
  returned: always
  type: list
  elements: dict
  sample:
    - {concurrency: 1, requests: 16, completed: 16, errors: 0, error_kinds: {}, wall_s: 9.8, output_tokens: 1024,
       output_tokens_per_s: 104.5, requests_per_s: 1.633, ttft_ms: {p50: 41.2, p99: 60.3}, itl_ms: {p50: 8.9, p99: 14.1},
       latency_s: {p50: 0.61, p99: 0.66}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onprem.deepseek.plugins.module_utils import serving_bench


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            api_key=dict(type="str", required=True, no_log=True),
            model=dict(type="str", required=True),
            ca_path=dict(type="path"),
            validate_certs=dict(type="bool", default=True),
            concurrency=dict(type="list", elements="int", default=[1, 2, 4]),
            requests=dict(type="int", default=16),
            max_seconds=dict(type="float", default=60),
            max_tokens=dict(type="int", default=64, no_log=False),
            prompt=dict(type="str", default=""),
            timeout=dict(type="float", default=120),
        ),
        supports_check_mode=False,
    )
    p = module.params
    try:
        target = serving_bench.Target(p["url"], p["api_key"], p["model"], ca_path=p["ca_path"], validate_certs=p["validate_certs"],
                                      max_tokens=p["max_tokens"], prompt=p["prompt"], timeout=p["timeout"])
        levels = serving_bench.run(target, p["concurrency"], p["requests"], p["max_seconds"])
    except serving_bench.BenchError as exc:
        module.fail_json(msg="serving_bench: %s" % exc)
    except (OSError, ValueError) as exc:
        module.fail_json(msg="serving_bench: cannot set up TLS for %s: %s" % (p["url"], exc))
    module.exit_json(changed=False, levels=levels)


if __name__ == "__main__":
    main()
