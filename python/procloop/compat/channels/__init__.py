"""yet-another-io-channels-library 0.2.4's ``channels`` on procloop: see
:mod:`procloop.compat.channels.channel`."""

from .channel import Channel, EndpointClosedException, PipeChannel, SocketChannel

__all__ = ["Channel", "PipeChannel", "SocketChannel", "EndpointClosedException"]
