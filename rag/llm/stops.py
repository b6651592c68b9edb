"""Stop sequences applied to the stream on our side, after the answer has begun.

Given to the server, a stop like "\n\n" also fires when a base model opens its answer with a blank
line, which ends the answer before it starts. Here leading whitespace is skipped first, and text
that could be the start of a stop sequence is held back until it is known not to be one.
"""

from __future__ import annotations


class StopFilter:
    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.buf = ""
        self.started = False
        self.done = False

    def feed(self, delta: str) -> str:
        """The text that can be shown now; "" once a stop sequence has been seen (check `done`)."""
        if self.done:
            return ""
        self.buf += delta
        if not self.started:
            self.buf = self.buf.lstrip()
            if not self.buf:
                return ""
            self.started = True
        hits = [i for i in (self.buf.find(s) for s in self.stops) if i >= 0]
        if hits:
            out, self.buf, self.done = self.buf[: min(hits)], "", True
            return out
        hold = max(
            (n for s in self.stops for n in range(1, len(s)) if self.buf.endswith(s[:n])),
            default=0,
        )
        out, self.buf = self.buf[: len(self.buf) - hold], self.buf[len(self.buf) - hold :]
        return out

    def flush(self) -> str:
        """What is still held back when the stream ends without a stop."""
        out, self.buf = ("" if self.done else self.buf), ""
        return out
