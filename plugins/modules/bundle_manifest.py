#!/usr/bin/python
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE) or GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt),
# at your option: modules are dual-licensed so that they combine with Ansible's GPLv3 module code.

from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
module: bundle_manifest
short_description: Write, plan or verify the manifest (bundle.json, SHA256SUMS) of an air-gapped bundle directory
version_added: 0.1.0
description:
  - An air-gapped bundle is one directory of parts (an APT suite, a container image, a model version, the controller's
    wheels, the collection), each fetched by one step of C(onprem.deepseek.bundle) from one input.
  - C(state=query) reads the bundle's C(bundle.json) and says which parts must be fetched again (new, input changed,
    a file missing or of another size) and which paths belong to parts no longer wanted. It changes nothing; a bundle
    directory that does not exist yet means every part.
  - C(state=present) lists every file of the parts (kind, name, version, SHA-256, size, path, source) in C(bundle.json)
    and C(SHA256SUMS) (GNU C(sha256sum) format), written only when their content changes.
  - C(state=verified) checks the directory against C(bundle.json) and C(SHA256SUMS) and fails naming every missing,
    unlisted and differing file. It changes nothing.
author:
  - onprem.deepseek contributors (@onprem-deepseek)
options:
  path:
    description:
      - The bundle directory (controller path when run on the controller).
    type: path
    required: true
  state:
    description:
      - C(present) writes the manifest, C(query) plans a re-run, C(verified) checks the directory.
    type: str
    choices: [present, query, verified]
    default: present
  parts:
    description:
      - The parts of the bundle (required with C(state=present) and C(state=query)).
    type: list
    elements: dict
    suboptions:
      name:
        description: Unique name of the part (C(apt-bookworm), C(model-deepseek-v3-fp8)).
        type: str
        required: true
      kind:
        description: What the part's files are.
        type: str
        choices: [deb, image, model, wheel, collection]
        required: true
      paths:
        description: Bundle-relative files or directories that hold the part (a directory means every file below it).
        type: list
        elements: str
        required: true
      input:
        description:
          - What the part was fetched from, as one string (an image reference and its ID, a model manifest, a package
            list). C(bundle.json) records its SHA-256; a different input means the part is fetched again.
        type: str
        default: ""
      source:
        description: Where the part's files come from, in words; recorded with each artifact.
        type: str
        default: ""
      version:
        description:
          - Version recorded for files whose name does not carry one (the image tag, the model version, the APT suite of
            the repository's index files).
        type: str
        default: ""
      artifact_name:
        description: Name recorded for every file of the part (an image's reference without its tag).
        type: str
        default: ""
      expected:
        description:
          - "C({path: sha256}) the part's files must match (a model's model_store manifest): a missing or different file
            fails the module naming it."
        type: dict
        default: {}
  about:
    description:
      - What the bundle is (collection version, inventory, suite), stored as C(about) in C(bundle.json). Keep it free of
        times, so that a re-run with the same inputs writes the same bytes.
    type: dict
    default: {}
  rehash:
    description:
      - With C(state=present), hash every file. C(false) keeps the recorded SHA-256 of a file of an unchanged part whose
        size is the recorded one and that was not modified after C(bundle.json) was written (C(state=verified) always
        hashes).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: C(state=present) reports what it would write; C(query) and C(verified) only read.
  diff_mode:
    support: full
    description: C(state=present) shows the change of C(bundle.json).
notes:
  - The logic lives in C(plugins/module_utils/bundle.py) and is unit-tested without Ansible.
  - C(cd BUNDLE && sha256sum -c SHA256SUMS) checks a bundle where this collection is not installed yet.
seealso:
  - name: Air-gapped bundle
    description: How a site builds, carries, verifies and installs a bundle (docs/offline.md).
    link: https://example.invalid/onprem/deepseek/blob/main/docs/offline.md
"""

EXAMPLES = r"""
- name: Which parts must be fetched again
  onprem.deepseek.bundle_manifest:
    path: /srv/bundle
    state: query
    parts:
      - {name: model-tiny-v1, kind: model, paths: [models/tiny-v1, models/tiny-v1.json], input: "{{ manifest | to_json }}", version: tiny-v1}
  register: bundle_plan

- name: Write bundle.json and SHA256SUMS
  onprem.deepseek.bundle_manifest:
    path: /srv/bundle
    parts: "{{ bundle_parts }}"
    about: {collection: onprem.deepseek 0.1.0}

- name: Check the bundle before anything is installed from it
  onprem.deepseek.bundle_manifest:
    path: /srv/bundle
    state: verified
"""

RETURN = r"""
refetch:
  description: With C(state=query), the parts to fetch again and why.
  returned: state is query
  type: dict
  sample: {model-tiny-v1: its input changed}
keep:
  description: With C(state=query), the parts whose files stay.
  returned: state is query
  type: list
  elements: str
remove:
  description: With C(state=query), bundle-relative paths of parts that are no longer wanted.
  returned: state is query
  type: list
  elements: str
manifest:
  description: The C(bundle.json) document (format, about, parts, artifacts, files, bytes).
  returned: state is present or verified
  type: dict
  contains:
    artifacts:
      description: One entry per file (kind, name, version, sha256, size, path, source, part), sorted by path.
      type: list
      elements: dict
      sample: [{kind: deb, name: curl, version: 7.88.1-10+deb12u12, sha256: "0c0f...", size: 315196,
                path: apt/bookworm/pool/curl_7.88.1-10+deb12u12_amd64.deb, source: scripts/mirror/build-apt-mirror.sh, part: apt-bookworm}]
    files:
      description: Number of files.
      type: int
    bytes:
      description: Their total size.
      type: int
written:
  description: With C(state=present), the files written (or, in check mode, that would be); empty when nothing changed.
  returned: state is present
  type: list
  elements: str
  sample: [SHA256SUMS, bundle.json]
problems:
  description: With C(state=verified), one sentence per problem (empty when the bundle is intact; the module then fails).
  returned: state is verified
  type: list
  elements: str
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.onprem.deepseek.plugins.module_utils import bundle

PREFIX = 'onprem.deepseek.bundle_manifest'


def _read(path):
    try:
        with open(path, 'r') as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _write(module, path, text):
    """Write `text` beside `path`, then rename: a reader never sees half a manifest."""
    handle, temporary = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=os.path.dirname(path))
    with os.fdopen(handle, 'w') as out:
        out.write(text)
    os.chmod(temporary, 0o644)
    module.atomic_move(temporary, path)


def _old_manifest(root):
    text = _read(os.path.join(root, bundle.MANIFEST))
    if text is None:
        return None, None
    try:
        return bundle.load_manifest(text), os.path.getmtime(os.path.join(root, bundle.MANIFEST))
    except bundle.BundleError:
        # An unreadable manifest is rewritten from the files: every part is fetched again.
        return None, None


def main():
    part_spec = {
        'name': {'type': 'str', 'required': True},
        'kind': {'type': 'str', 'required': True, 'choices': list(bundle.KINDS)},
        'paths': {'type': 'list', 'elements': 'str', 'required': True},
        'input': {'type': 'str', 'default': ''},
        'source': {'type': 'str', 'default': ''},
        'version': {'type': 'str', 'default': ''},
        'artifact_name': {'type': 'str', 'default': ''},
        'expected': {'type': 'dict', 'default': {}},
    }
    module = AnsibleModule(
        argument_spec={
            'path': {'type': 'path', 'required': True},
            'state': {'type': 'str', 'default': 'present', 'choices': ['present', 'query', 'verified']},
            'parts': {'type': 'list', 'elements': 'dict', 'options': part_spec},
            'about': {'type': 'dict', 'default': {}},
            'rehash': {'type': 'bool', 'default': False},
        },
        required_if=[('state', 'present', ('parts',)), ('state', 'query', ('parts',))],
        supports_check_mode=True,
    )
    root, state, parts = module.params['path'], module.params['state'], module.params['parts'] or []
    if not os.path.isdir(root) and not (state == 'query' and not os.path.exists(root)):
        module.fail_json(msg='%s: %s is not a directory' % (PREFIX, root))
    names = [p['name'] for p in parts]
    twice = sorted(set(n for n in names if names.count(n) > 1))
    if twice:
        module.fail_json(msg='%s: parts named twice: %s' % (PREFIX, ', '.join(twice)))

    try:
        if state == 'verified':
            manifest_text = _read(os.path.join(root, bundle.MANIFEST))
            sums_text = _read(os.path.join(root, bundle.SUMS))
            absent = [n for n, t in ((bundle.MANIFEST, manifest_text), (bundle.SUMS, sums_text)) if t is None]
            if absent:
                module.fail_json(msg='%s: %s has no %s: not a bundle, or one whose build did not finish'
                                 % (PREFIX, root, ' and no '.join(absent)), problems=absent)
            problems = bundle.verify(root, manifest_text, sums_text)
            document = bundle.load_manifest(manifest_text)
            if problems:
                module.fail_json(msg='%s: the bundle %s does not match its manifest: %s' % (PREFIX, root, '; '.join(problems)),
                                 problems=problems)
            module.exit_json(changed=False, problems=[], manifest=document)

        old, written = _old_manifest(root)
        if state == 'query':
            decision = bundle.plan(root, old, parts)
            module.exit_json(changed=False, **decision)

        records = bundle.collect(root, parts, old=old, reuse_before=None if module.params['rehash'] else written)
        document = bundle.manifest(records, parts, module.params['about'])
    except bundle.BundleError as exc:
        module.fail_json(msg='%s: %s: %s' % (PREFIX, root, to_native(exc)))

    wanted = {bundle.MANIFEST: bundle.render_manifest(document), bundle.SUMS: bundle.render_sums(records)}
    before = dict((name, _read(os.path.join(root, name))) for name in wanted)
    changed = [name for name in sorted(wanted) if before[name] != wanted[name]]
    if changed and not module.check_mode:
        for name in changed:
            _write(module, os.path.join(root, name), wanted[name])
    result = {'changed': bool(changed), 'manifest': document, 'written': changed}
    if module._diff:
        result['diff'] = {'before_header': os.path.join(root, bundle.MANIFEST), 'after_header': os.path.join(root, bundle.MANIFEST),
                          'before': before[bundle.MANIFEST] or '', 'after': wanted[bundle.MANIFEST]}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
