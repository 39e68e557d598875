# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The air-gapped bundle: its manifest (bundle.json + SHA256SUMS), what a re-run must fetch again, and its verification.

Pure functions over a directory; no Ansible import, so that unit tests call them directly and the bundle_manifest
module stays a thin wrapper. A bundle is made of parts (one APT suite, one image, one model version, the wheels, the
collection): each part is fetched by one step of playbooks/bundle.yml from one input, and holds one or more files.
"""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import re

from urllib.parse import unquote

FORMAT = 1
KINDS = ('deb', 'image', 'model', 'wheel', 'collection')
MANIFEST = 'bundle.json'
SUMS = 'SHA256SUMS'
# Written by the bundle itself, never listed in it.
OWN_FILES = (MANIFEST, SUMS)
# The model store's record of a verified version (roles/model_store, __model_store_marker: written by model-store-check
# --record), in models/<version>/ where a store adopts the bundle's own directory as that version's place (the
# appliance's data partition): the store's bookkeeping, not the bundle's content, so not an unlisted file.
STORE_RECORD = '.onprem-deepseek-verified'
_BLOCK = 1 << 20
_SUMS_LINE = re.compile(r'^([0-9a-f]{64}) [ *](.+)$')
_DEB = re.compile(r'^([^_]+)_([^_]+)_([^_]+)\.u?deb$')
_WHEEL = re.compile(r'^([^-]+)-([^-]+)-.*\.whl$')
_SDIST = re.compile(r'^(.+)-([0-9][^-]*)\.(?:tar\.gz|zip|tar\.bz2)$')
_COLLECTION = re.compile(r'^([a-z0-9_]+)-([a-z0-9_]+)-([0-9][^/]*)\.tar\.gz$')


class BundleError(ValueError):
    """A part, a path or a manifest the bundle cannot be built from; the message names it."""


def sha256_file(path):
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(_BLOCK), b''):
            digest.update(block)
    return digest.hexdigest()


def input_digest(value):
    """What bundle.json records of a part's input: its SHA-256 (an input may hold a URL with a token)."""
    return hashlib.sha256(str(value).encode('utf-8')).hexdigest()


def describe(kind, relpath, version='', name=''):
    """(name, version) of one file of a part of `kind`, from its file name unless the part names them."""
    base = unquote(os.path.basename(relpath))
    if kind == 'deb':
        match = _DEB.match(base)
        # The index files of the repository (Packages, Release, InRelease, key.asc) carry the suite as version.
        return (match.group(1), match.group(2)) if match else (base, version)
    if kind == 'wheel':
        match = _WHEEL.match(base) or _SDIST.match(base)
        return (match.group(1), match.group(2)) if match else (base, version)
    if kind == 'collection':
        match = _COLLECTION.match(base)
        return ('%s.%s' % (match.group(1), match.group(2)), match.group(3)) if match else (base, version)
    if kind == 'image':
        return (name or base, version)
    return (relpath if not name else name, version)


def _check_part(part):
    for key in ('name', 'kind', 'paths'):
        if not part.get(key):
            raise BundleError('part %s has no %s' % (json.dumps(part.get('name', '?')), key))
    if part['kind'] not in KINDS:
        raise BundleError('part %s: kind %s is not one of %s' % (part['name'], json.dumps(part['kind']), ', '.join(KINDS)))
    for path in part['paths']:
        if os.path.isabs(path) or '..' in path.split('/') or path in OWN_FILES:
            raise BundleError('part %s: path %s must be relative, inside the bundle and not %s'
                              % (part['name'], json.dumps(path), ' or '.join(OWN_FILES)))


def _files_under(root, relpath):
    """Bundle-relative paths of the files at or below `relpath`, sorted."""
    top = os.path.join(root, relpath)
    if os.path.isfile(top):
        return [relpath]
    found = []
    for directory, dirs, names in os.walk(top):
        dirs.sort()
        for name in sorted(names):
            found.append(os.path.relpath(os.path.join(directory, name), root).replace(os.sep, '/'))
    return found


def collect(root, parts, old=None, reuse_before=None):
    """The artifact records of every file of `parts` under `root`, sorted by path.

    A file of a part whose input is unchanged since `old` (the previous manifest) keeps its recorded SHA-256 when its
    size is the recorded one and it was last modified before `reuse_before` (the old bundle.json's mtime): a re-run
    does not read hundreds of GiB of weights again. `reuse_before=None` hashes every file. A part's `expected`
    ({path: sha256}) must match: a model file that is not what its model_store manifest says is refused here.
    """
    old_parts = (old or {}).get('parts', {})
    old_files = dict((a['path'], a) for a in (old or {}).get('artifacts', []))
    records, owner = [], {}
    for part in parts:
        _check_part(part)
        unchanged = part['name'] in old_parts and old_parts[part['name']].get('input') == input_digest(part.get('input', ''))
        files = []
        for relpath in part['paths']:
            if not os.path.exists(os.path.join(root, relpath)):
                raise BundleError('part %s: %s is missing from the bundle' % (part['name'], relpath))
            files.extend(_files_under(root, relpath))
        for relpath in files:
            if relpath in owner:
                raise BundleError('%s belongs to two parts: %s and %s' % (relpath, owner[relpath], part['name']))
            owner[relpath] = part['name']
            stat = os.stat(os.path.join(root, relpath))
            previous = old_files.get(relpath)
            if (unchanged and reuse_before is not None and previous and previous.get('size') == stat.st_size
                    and stat.st_mtime <= reuse_before):
                digest = previous['sha256']
            else:
                digest = sha256_file(os.path.join(root, relpath))
            name, version = describe(part['kind'], relpath, part.get('version', ''), part.get('artifact_name', ''))
            records.append({'kind': part['kind'], 'name': name, 'version': version, 'sha256': digest, 'size': stat.st_size,
                            'path': relpath, 'source': part.get('source', ''), 'part': part['name']})
        expected, bad = part.get('expected') or {}, []
        for relpath in sorted(expected):
            if owner.get(relpath) != part['name']:
                bad.append('%s (missing)' % relpath)
        for record in records:
            if record['part'] != part['name'] or not expected:
                continue
            if record['path'] not in expected:
                bad.append('%s (not listed)' % record['path'])
            elif expected[record['path']] != record['sha256']:
                bad.append('%s (SHA-256 %s, expected %s)' % (record['path'], record['sha256'], expected[record['path']]))
        if bad:
            raise BundleError('part %s: %d file(s) do not match the manifest of its source: %s'
                              % (part['name'], len(bad), ', '.join(bad)))
    return sorted(records, key=lambda r: r['path'])


def manifest(records, parts, about=None):
    """The bundle.json document: format, what the bundle is (`about`), each part's input digest and every artifact."""
    return {
        'format': FORMAT,
        'about': about or {},
        'parts': dict((p['name'], {'kind': p['kind'], 'input': input_digest(p.get('input', '')), 'source': p.get('source', ''),
                                   'paths': list(p['paths'])}) for p in parts),
        'artifacts': records,
        'files': len(records),
        'bytes': sum(r['size'] for r in records),
    }


def render_manifest(document):
    """bundle.json's text: stable (sorted keys), so that an unchanged bundle writes the same bytes."""
    return json.dumps(document, indent=1, sort_keys=True) + '\n'


def render_sums(records):
    """SHA256SUMS in the format of GNU sha256sum: `sha256sum -c SHA256SUMS` checks the bundle without Ansible."""
    return ''.join('%s  %s\n' % (r['sha256'], r['path']) for r in sorted(records, key=lambda r: r['path']))


def parse_sums(text):
    """{path: sha256} of a SHA256SUMS text; a line that is not `<64 hex> <space or *><path>` is an error naming it."""
    sums = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _SUMS_LINE.match(line)
        if not match:
            raise BundleError('%s line %d is not "<sha256>  <path>": %s' % (SUMS, number, json.dumps(line[:80])))
        sums[match.group(2)] = match.group(1)
    return sums


def load_manifest(text):
    """bundle.json parsed and checked for its format; a BundleError names what is wrong."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise BundleError('%s is not JSON: %s' % (MANIFEST, exc))
    if not isinstance(document, dict) or document.get('format') != FORMAT or not isinstance(document.get('artifacts'), list):
        raise BundleError('%s is not a bundle manifest of format %d' % (MANIFEST, FORMAT))
    return document


def plan(root, old, parts):
    """What a run must fetch: {'refetch': {part: reason}, 'keep': [part], 'remove': [path]}.

    A part is fetched again when the bundle has no manifest, the part is new, its input changed, or one of its files
    is missing or of another size than recorded (a cheap check: verification hashes). The paths of parts that are
    no longer wanted are to be removed. Only the changed parts are fetched: the others keep their files.
    """
    refetch, keep = {}, []
    old_parts = (old or {}).get('parts', {})
    by_part = {}
    for record in (old or {}).get('artifacts', []):
        by_part.setdefault(record.get('part'), []).append(record)
    for part in parts:
        _check_part(part)
        name = part['name']
        if old is None:
            refetch[name] = 'the bundle has no %s yet' % MANIFEST
        elif name not in old_parts:
            refetch[name] = 'not in the bundle yet'
        elif old_parts[name].get('input') != input_digest(part.get('input', '')):
            refetch[name] = 'its input changed'
        else:
            damaged = []
            for record in by_part.get(name, []):
                path = os.path.join(root, record['path'])
                if not os.path.isfile(path):
                    damaged.append('%s (missing)' % record['path'])
                elif os.path.getsize(path) != record['size']:
                    damaged.append('%s (%d bytes, recorded %d)' % (record['path'], os.path.getsize(path), record['size']))
            if damaged:
                refetch[name] = '%d file(s) missing or changed: %s' % (len(damaged), ', '.join(damaged))
            else:
                keep.append(name)
    wanted = set(p['name'] for p in parts)
    kept_paths = set(path for p in parts for path in p['paths'])
    remove = sorted(set(path for name, old_part in old_parts.items() if name not in wanted
                        for path in old_part.get('paths', []) if path not in kept_paths))
    return {'refetch': refetch, 'keep': sorted(keep), 'remove': remove}


def _listed(names, limit=10):
    shown = ', '.join(names[:limit])
    return shown + (' and %d more' % (len(names) - limit) if len(names) > limit else '')


def _store_record(path):
    """models/<version>/.onprem-deepseek-verified: a model store's record in the bundle's model directory."""
    parts = path.split('/')
    return len(parts) == 3 and parts[0] == 'models' and parts[2] == STORE_RECORD


def verify(root, manifest_text, sums_text, check_hashes=True):
    """Every problem of the bundle at `root` against its bundle.json and SHA256SUMS, one sentence each ([]: intact).

    Named: files bundle.json and SHA256SUMS disagree on, files they list that are missing, files on disk they do not
    list, and files whose size or SHA-256 is not the recorded one.
    """
    document = load_manifest(manifest_text)
    sums = parse_sums(sums_text)
    recorded = dict((a['path'], a) for a in document['artifacts'])
    problems = []
    disagree = sorted(p for p in set(recorded) | set(sums) if recorded.get(p, {}).get('sha256') != sums.get(p))
    if disagree:
        problems.append('%s and %s disagree on %d file(s): %s' % (MANIFEST, SUMS, len(disagree), _listed(disagree)))
    on_disk = set(p for p in _files_under(root, '.') if p not in OWN_FILES and not _store_record(p))
    missing = sorted(set(recorded) - on_disk)
    if missing:
        problems.append('%d file(s) missing: %s' % (len(missing), _listed(missing)))
    extra = sorted(on_disk - set(recorded) - set(sums))
    if extra:
        problems.append('%d file(s) not in the manifest: %s' % (len(extra), _listed(extra)))
    mismatched = []
    for path in sorted(set(recorded) & on_disk):
        record = recorded[path]
        size = os.path.getsize(os.path.join(root, path))
        if size != record['size']:
            mismatched.append('%s (%d bytes, recorded %d)' % (path, size, record['size']))
        elif check_hashes:
            digest = sha256_file(os.path.join(root, path))
            if digest != record['sha256']:
                mismatched.append('%s (SHA-256 %s, recorded %s)' % (path, digest, record['sha256']))
    if mismatched:
        problems.append('%d file(s) differ from the manifest: %s' % (len(mismatched), _listed(mismatched)))
    return problems


def _image_matches(record, reference):
    """A bundle image record (name = the reference without its tag, version = the tag) is `reference`."""
    return '%s:%s' % (record['name'], record['version']) == reference or (record['name'] == reference and record['version'] == 'latest')


def host_sources(document, deployment, suite, apt=True, images=True, models=True, family="Debian"):
    """What one host takes from a verified bundle (its bundle.json `document`), and every reason it cannot.

    `deployment` is the host's deepseek_deployment (None or '' for a host that serves none: a front door gets the APT
    repository only), `suite` its Debian release (ansible_distribution_release). The deployment's engine image and
    model are the ones the bundle playbook recorded in about.deployments (the inventory's, read the way the roles read
    it), so that site.yml installs exactly what the bundle was built for. `family` is the host's ansible_os_family: a
    bundle holds APT repositories only, so a host of another family is told so (not "build one with
    bundle_apt_suite=<its release>", which no Debian suite answers). Returns
    {'apt': 'apt/<suite>' or '', 'image': {'name', 'path'} or None, 'model': {'name', 'dir', 'manifest'} or None,
    'problems': [sentence, ...]}; paths are relative to the bundle directory.
    """
    problems = []
    parts = document.get('parts') or {}
    artifacts = document.get('artifacts') or []
    result = {'apt': '', 'image': None, 'model': None, 'problems': problems}
    if apt and family != 'Debian':
        problems.append('the host is %s-family (release %s): a bundle holds APT repositories (Debian suites) only, no'
                        ' dnf/RPM layout; set offline_bundle_apt: false for it and install its packages from the site\'s own'
                        ' mirror' % (family, suite))
    elif apt:
        if 'apt-%s' % suite in parts:
            result['apt'] = 'apt/%s' % suite
        else:
            suites = sorted(name[len('apt-'):] for name in parts if name.startswith('apt-'))
            problems.append('the bundle has no APT repository for %s (it has: %s); build one with bundle_apt_suite=%s'
                            % (suite, ', '.join(suites) or 'none', suite))
    if not deployment:
        return result
    entries = [d for d in (document.get('about') or {}).get('deployments') or [] if d.get('deployment') == deployment]
    if not entries:
        known = sorted(str(d.get('deployment')) for d in (document.get('about') or {}).get('deployments') or [])
        problems.append('deployment %s is not in the bundle (it was built for: %s); build it from this inventory'
                        % (deployment, ', '.join(known) or 'none'))
        return result
    entry = entries[0]
    if images and entry.get('image'):
        found = [a for a in artifacts if a.get('kind') == 'image' and _image_matches(a, entry['image'])]
        if found:
            result['image'] = {'name': entry['image'], 'path': found[0]['path']}
        else:
            problems.append('the image %s of deployment %s is not in the bundle (bundle_include_images was false?)' % (entry['image'], deployment))
    if models and entry.get('model'):
        model = entry['model']
        if 'model-%s' % model in parts:
            result['model'] = {'name': model, 'dir': 'models/%s' % model, 'manifest': 'models/%s.json' % model}
        else:
            problems.append('the model %s of deployment %s is not in the bundle (bundle_include_models was false?)' % (model, deployment))
    return result
