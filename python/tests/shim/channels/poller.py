"""Shim: ``channels.poller``, mapped onto procloop.compat.channels.poller."""

from procloop.compat.channels.poller import Poller

__all__ = ["Poller"]
