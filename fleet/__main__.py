"""`python -m fleet` (and, pointed at :func:`run`, the `fleet` script). A signal in the
second or so of imports before fleet.cli installs its own handlers still ends the run as
one: exit 128+signal with one line, no traceback."""

import signal
import sys


def _early(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def run() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _early)
    try:
        from fleet.cli import main
    except SystemExit as e:
        print("fleet: interrupted; nothing of this run was stored", file=sys.stderr)
        sys.exit(e.code)
    except Exception as e:  # a broken install: still exit 2 with one line, no traceback
        from fleet.errors import bug_text

        print(f"fleet: {bug_text('start', 'command', e)}", file=sys.stderr)
        sys.exit(2)
    main()


if __name__ == "__main__":
    run()
