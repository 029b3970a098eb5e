"""``channels.testing``: ``TestChannel``, a PipeChannel whose other ends the
test holds: ``put(data)`` makes data readable, ``get()`` returns what was
written."""

import os

from .channel import PipeChannel

__all__ = ["TestChannel"]


class TestChannel(PipeChannel):
    """A channel for tests: ``put`` feeds ``read``, ``get`` fetches what was
    written (never blocks; ``b''`` for nothing)."""

    __test__ = False  # not a pytest test class

    def __init__(self, **kwargs):
        self._in_r, self._out_w = os.pipe()
        self._out_r, self._in_w = os.pipe()
        super().__init__(self._out_r, self._out_w, **kwargs)
        self._inner = PipeChannel(self._in_r, self._in_w)

    def get(self):
        """What was written to the channel so far and not got yet."""
        return self._inner.read()

    def put(self, data):
        """Makes ``data`` readable on the channel."""
        self._inner.write(data)
