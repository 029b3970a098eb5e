"""``channels.testing``: ``TestChannel``, a PipeChannel whose other ends the
test holds: ``put(data)`` makes data readable, ``get()`` returns what was
written."""

import os
from typing import Optional, Union

from .channel import PipeChannel

__all__ = ["TestChannel"]


class TestChannel(PipeChannel):
    """A channel for tests: ``put`` feeds ``read``, ``get`` fetches what was
    written (never blocks; ``b''`` for nothing)."""

    __test__ = False  # not a pytest test class

    def __init__(self, *, buffering: Optional[str] = 'bytes') -> None:
        self._in_r, self._out_w = os.pipe()
        self._out_r, self._in_w = os.pipe()
        super().__init__(self._out_r, self._out_w, buffering=buffering)
        self._inner = PipeChannel(self._in_r, self._in_w)

    def get(self) -> bytes:
        """What was written to the channel so far and not got yet."""
        return self._inner.read()

    def put(self, data: Union[bytes, bytearray]) -> None:
        """Makes ``data`` readable on the channel."""
        self._inner.write(data)
