"""yet-another-runner 0.6.0's ``runner`` on procloop: ``Runner`` and
``ProcessExistsException``, with the same methods and config fields
(``command``, ``type``, ``cwd``, ``socket``, ``buffering``, ``setpgrp``).

Processes are started and ended by procloop's Rust Runner (the command split
as a shell would, never run by one; ``terminate`` sends SIGTERM, waits up to
5 s, then SIGKILL, and always reaps); channels are ``PipeChannel`` (stdio
apps) and ``SocketChannel`` (socket apps) whose reads run in Rust.

Differences from the library, all of them fixes: a socket app's socket is
waited for 5 s at most (then ``SocketError``), not for ever; a file holding
data at the socket path is refused (``SocketError``), not deleted; a dropped
Runner ends its children instead of leaving them running.
"""

import logging
from os import PathLike
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Union

from .. import _native
from ..errors import ProcessExistsException
from .channels import Channel, PipeChannel, SocketChannel

__all__ = ["ProcessExistsException", "Runner"]

_LOGGER = logging.getLogger(__name__)


class _App:
    """One configured app, as the library keeps it: a command, a type and
    the other fields, which a start may override."""

    def __init__(self, command: str, type: str = "stdio", **kwargs: Any) -> None:
        _native.split_command(command)  # a bad command fails here, as shlex did
        self.command = command
        self.socket_type = type != 'stdio'
        self.kwargs = kwargs

    def config(self, overrides: Mapping[str, Any]) -> Dict[str, Any]:
        kwargs = dict(self.kwargs, **overrides)
        config: Dict[str, Any] = {"command": self.command, "buffering": kwargs.get('buffering')}
        if kwargs.get('cwd') is not None:
            config["cwd"] = kwargs['cwd']
        if kwargs.get('setpgrp', False):
            config["setpgrp"] = True
        if self.socket_type:
            config["type"] = "socket"
            config["socket"] = kwargs['socket']
        return config


class Runner:
    """Starts configured apps under aliases and hands out their channels."""

    def __init__(self, *, extra_paths: Optional[Iterable[Union[str, "PathLike[str]"]]] = None) -> None:
        self._native = _native.Runner(extra_paths=extra_paths)
        self._apps: Dict[str, _App] = {}
        self._channels: Dict[str, Union[PipeChannel, SocketChannel]] = {}

    def add(self, app: str, command: str, **kwargs: Any) -> None:
        """Configures one app."""
        self.update_config({app: dict(command=command, **kwargs)})

    def update_config(self, config: Mapping[str, Mapping[str, Any]]) -> None:
        """Configures apps: ``{name: {"command": ..., "type": ..., ...}}``."""
        for app, app_config in config.items():
            _LOGGER.debug("Updating config for %s", app)
            self._apps[app] = _App(**app_config)

    def ensure_running(
        self, app_name: str, alias: Optional[str] = None, with_args: Optional[Sequence[str]] = None, **kwargs: Any
    ) -> None:
        """Starts ``app_name`` as ``alias`` unless that alias is taken."""
        if alias is None:
            alias = app_name
        if alias in self._channels:
            _LOGGER.info("Alias %s is already taken, not starting %s", alias, app_name)
            return
        app = self._apps[app_name]
        _LOGGER.info("Starting application %s as %s", app_name, alias)
        self._native.add(app_name, **app.config(kwargs))
        self._native.start(app_name, alias=alias, with_args=list(with_args or []))
        core = self._native.channel(alias)
        if app.socket_type:
            self._channels[alias] = SocketChannel._of(core, core.buffering)
        else:
            self._channels[alias] = PipeChannel._of(core, core.buffering)
        _LOGGER.debug("%s started", alias)

    def start(
        self, app_name: str, alias: Optional[str] = None, with_args: Optional[Sequence[str]] = None, **kwargs: Any
    ) -> None:
        """As ``ensure_running``; ProcessExistsException if the alias is taken."""
        if alias is None:
            alias = app_name
        if alias in self._channels:
            raise ProcessExistsException(alias)
        self.ensure_running(app_name, alias, with_args, **kwargs)

    def get_channel(self, alias: str) -> Optional[Channel]:
        """The channel of ``alias``; None if it is not running."""
        return self._channels.get(alias)

    def terminate(self, alias: str) -> None:
        """Closes the channel of ``alias`` and ends its process. Interrupted
        (Ctrl-C), the alias stays taken: ``terminate`` it again."""
        channel = self._channels[alias]
        channel.close()
        self._native.terminate(alias)
        del self._channels[alias]
