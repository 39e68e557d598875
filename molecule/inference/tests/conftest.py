"""Fixtures shared by the inference scenario's test files (helpers live in lab.py)."""

import pytest

from lab import CA


@pytest.fixture(scope='module')
def ca_file(host, tmp_path_factory):
    """The private CA of the lab's gateway, copied to the controller for the TLS clients."""
    path = tmp_path_factory.mktemp('ca') / 'ca.crt'
    path.write_text(host.file(CA).content_string)
    return str(path)
