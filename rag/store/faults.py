"""Test-only crash points: `RAG_TEST_KILL_AT=<stage>:<n>` SIGKILLs the process at the n-th `<stage>` event.

The crash tests (tests/test_crash.py) run `rag ingest` in a subprocess with this variable set, so the
process dies exactly like `kill -9` at a chosen moment, then check that the next ingest repairs the
store. Stages, in the order an ingest reaches them:

* `parse:1`   after the corpus is parsed, before anything is written;
* `embed:n`   after the n-th embedding batch;
* `write:n`   after the n-th Chroma upsert (a batch of new chunk vectors);
* `publish:1` after the new view's files are written, before it is made current;
* `publish:2` after the new view is current, before replaced chunks are deleted from Chroma;
* `delete:n`  after the n-th Chroma delete batch (old versions of changed papers, orphans);
* `gc:1`      after the deletes, before the journal is cleared.

Unset (always, outside tests) it costs one dictionary lookup per event.
"""

from __future__ import annotations

import os
import signal
import threading

_counts: dict[str, int] = {}
_lock = threading.Lock()


def checkpoint(stage: str) -> None:
    """Count one `stage` event; die by SIGKILL if RAG_TEST_KILL_AT names this event."""
    spec = os.environ.get("RAG_TEST_KILL_AT")
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != stage:
        return
    with _lock:
        _counts[stage] = _counts.get(stage, 0) + 1
        hit = _counts[stage] == int(nth or 1)
    if hit:
        os.kill(os.getpid(), signal.SIGKILL)
