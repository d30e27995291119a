"""A fix for faust-streaming 0.15.3 (pinned) that at-least-once delivery depends on.

After a rebalance, Faust's stream loop skips messages fetched under an older consumer
generation (or while flow control is suspended) -- the consumer seeks back and fetches them
again -- but it also *acknowledges* the skipped messages. Their offsets can then be committed
before the re-fetched copies are processed; a crash in that window loses them. We saw exactly
that in the kill -9 test: contiguous runs of offsets acknowledged and never screened.

The fix refuses acknowledgements for messages of a stale generation or while flow control is
off. Such a message is processed again after the rebalance (at-least-once), which the
idempotent sinks absorb.
"""

from __future__ import annotations

from typing import Any

_PATCHED = "_raiwatch_refuses_stale_acks"


def refuse_stale_acks() -> None:
    """Install the fix once per process."""
    from faust.transport.consumer import Consumer

    if getattr(Consumer.ack, _PATCHED, False):
        return
    original = Consumer.ack

    def ack(self: Any, message: Any) -> bool:
        app = self.app
        stale = message.generation_id is not None and message.generation_id != app.consumer_generation_id
        if stale or not app.flow_control.is_active():
            return False
        return original(self, message)

    setattr(ack, _PATCHED, True)
    ack.__doc__ = original.__doc__
    Consumer.ack = ack
