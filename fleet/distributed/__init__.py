"""A sweep across many machines on Celery: a collector (``fleet worker``) inside each site's
network takes batches of that site's hosts from the site's queue, reads and checks them, and
returns redacted, normalised results; the coordinator (``fleet sweep --broker``) splits the
hosts, collects the results, runs the fleet-level checks and stores one snapshot.

- ``payload``: what travels (hosts with secret *references* only, results as plain data);
- ``tasks``: the Celery application and the one task a worker runs;
- ``coordinator``: splitting, sending, waiting, and what a missing answer becomes.
"""

from __future__ import annotations

from fleet.errors import InputError


def require(option: str) -> None:
    """An InputError naming how to install Celery, unless it is there (it is an extra)."""
    try:
        import celery  # noqa: F401
    except ImportError:
        raise InputError(
            "distributed sweeps need Celery: pip install 'fleet[workers]'", field=option
        ) from None
