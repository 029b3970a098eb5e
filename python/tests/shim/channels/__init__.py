"""Shim: the ``channels`` package, mapped onto procloop.compat.channels."""

from procloop.compat.channels import Channel, EndpointClosedException, PipeChannel, SocketChannel

__all__ = ["Channel", "PipeChannel", "SocketChannel", "EndpointClosedException"]
