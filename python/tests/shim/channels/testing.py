"""Shim: ``channels.testing``, mapped onto procloop.compat.channels.testing."""

from procloop.compat.channels.testing import TestChannel

__all__ = ["TestChannel"]
