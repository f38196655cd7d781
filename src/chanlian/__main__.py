"""The ``chanlian`` console script: Django's manage.py under the project's name.

A few commands read better with a hyphen (``chanlian audit-verify``); Django command modules cannot
carry one, so they are aliased here.
"""

import os
import sys

ALIASES = {"audit-verify": "audit_verify"}


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chanlian.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv if argv is None else argv)
    if len(argv) > 1:
        argv[1] = ALIASES.get(argv[1], argv[1])
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
