"""Stand-in for pip's get-pip.py, used by ansible-test to put pip into its sanity virtualenvs.

ansible-test downloads get-pip.py from a host outside PyPI, which machines that reach only a
package mirror cannot fetch; it runs a cached copy when one exists. This one installs pip with
the standard library's ensurepip, then the packages ansible-test asks for from the package index.
"""

import subprocess
import sys


def main():
    wanted = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check'] + wanted)


if __name__ == '__main__':
    main()
