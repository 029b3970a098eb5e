"""Shim: the Python runner's ``runner`` package, mapped onto procloop.compat.runner."""

from procloop.compat.runner import ProcessExistsException, Runner

__all__ = ["ProcessExistsException", "Runner"]
