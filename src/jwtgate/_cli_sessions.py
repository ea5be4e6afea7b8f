"""The ``jwtgate sessions`` commands: a subject's session inventory, and revoking one
session by its id (the store's answers, as text or ``--json``)."""

from __future__ import annotations

import argparse
import json
import time
from typing import TextIO

from ._cli_common import EXIT_FAILED, EXIT_OK, describe_time, load_settings_file, printable
from .config import Settings
from .sessions import list_sessions, revoke_session
from .stores._storable import as_read_back

__all__ = ["cmd_sessions_list", "cmd_sessions_revoke"]


def cmd_sessions_list(args: argparse.Namespace, out: TextIO) -> int:
    settings = Settings.from_dict(load_settings_file(args.settings))
    found = list_sessions(settings, as_read_back(args.subject))
    if args.json:
        print(json.dumps([info.as_dict() for info in found], indent=2), file=out)
        return EXIT_OK
    if not found:
        print(f"no live sessions for {args.subject!r}", file=out)
        return EXIT_OK
    now = time.time()
    for info in found:
        refreshed = describe_time(info.refreshed, now) if info.refreshed is not None else "never"
        client = ", ".join(f"{k}={printable(v)}" for k, v in sorted(info.client.items()))
        print(
            f"{printable(info.sid)}  created {describe_time(info.created, now)}; "
            f"refreshed {refreshed}; expires {describe_time(info.expires, now)}; "
            f"client {client or '-'}",
            file=out,
        )
    return EXIT_OK


def cmd_sessions_revoke(args: argparse.Namespace, out: TextIO) -> int:
    settings = Settings.from_dict(load_settings_file(args.settings))
    revoked = revoke_session(settings, as_read_back(args.session_id))
    if args.json:
        print(json.dumps({"session_id": args.session_id, "revoked": revoked}), file=out)
    elif revoked:
        print(f"revoked session {printable(args.session_id)}", file=out)
    else:
        print(f"no live session {printable(args.session_id)}", file=out)
    return EXIT_OK if revoked else EXIT_FAILED
