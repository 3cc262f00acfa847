"""Size of the report email for the last snapshot of a store, as `fleet report --email` builds
it, and of each part:

    python bench/email_size.py STORE.db [zip|none]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleet import app
from fleet.report import email, html
from fleet.store import Store


def main() -> None:
    with Store(sys.argv[1]) as st:
        snap = st.load(st.resolve(None))
        ctx = app.context_for(st, snap)
    attach = {"attach": sys.argv[2]} if sys.argv[2:] else {}
    opts = email.EmailOptions(["ops@example.com"], "127.0.0.1:25", **attach)
    msg = email.build(ctx, opts, html.render(ctx))
    print(f"{len(snap.results)} devices: message {len(msg.as_bytes()) / 1024:.1f} KiB")
    for part in msg.walk():
        if not part.is_multipart():
            name = part.get_filename() or ""
            size = len(part.as_bytes()) / 1024
            print(f"  {part.get_content_type():24} {name:28} {size:8.1f} KiB")


if __name__ == "__main__":
    main()
