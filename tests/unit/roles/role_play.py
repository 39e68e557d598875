"""The head of the small playbooks the render tests write: one play on HOSTS, run locally, that loads a role's defaults
and vars the way the role sees them; the test appends its own tasks (indented four spaces, under `tasks:`)."""


def role_play(hosts, role):
    """HOSTS: the play's hosts pattern; ROLE: the role's folder. Returns the YAML text up to and with the vars tasks."""
    return (
        '\n'
        '- hosts: %s\n'
        '  gather_facts: false\n'
        '  connection: local\n'
        '  tasks:\n'
        '    - name: Role defaults\n'
        '      ansible.builtin.include_vars: %s/defaults/main.yml\n'
        '    - name: Role vars\n'
        '      ansible.builtin.include_vars: %s/vars/main.yml\n'
    ) % (hosts, role, role)
