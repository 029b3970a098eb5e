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

from .. import _native
from ..errors import ProcessExistsException
from .channels import PipeChannel, SocketChannel

__all__ = ["ProcessExistsException", "Runner"]

_LOGGER = logging.getLogger(__name__)


class _App:
    """One configured app, as the library keeps it: a command, a type and
    the other fields, which a start may override."""

    def __init__(self, command, type="stdio", **kwargs):
        _native.split_command(command)  # a bad command fails here, as shlex did
        self.command = command
        self.socket_type = type != 'stdio'
        self.kwargs = kwargs

    def config(self, overrides):
        kwargs = dict(self.kwargs, **overrides)
        config = {"command": self.command, "buffering": kwargs.get('buffering')}
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

    def __init__(self, *, extra_paths=None):
        self._native = _native.Runner(extra_paths=extra_paths)
        self._apps = {}
        self._channels = {}

    def add(self, app, command, **kwargs):
        """Configures one app."""
        self.update_config({app: dict(command=command, **kwargs)})

    def update_config(self, config):
        """Configures apps: ``{name: {"command": ..., "type": ..., ...}}``."""
        for app, app_config in config.items():
            _LOGGER.debug("Updating config for %s", app)
            self._apps[app] = _App(**app_config)

    def ensure_running(self, app_name, alias=None, with_args=None, **kwargs):
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
        core = self._native.get_channel(alias)
        cls = SocketChannel if app.socket_type else PipeChannel
        self._channels[alias] = cls._of(core, core.buffering)
        _LOGGER.debug("%s started", alias)

    def start(self, app_name, alias=None, with_args=None, **kwargs):
        """As ``ensure_running``; ProcessExistsException if the alias is taken."""
        if alias is None:
            alias = app_name
        if alias in self._channels:
            raise ProcessExistsException(alias)
        self.ensure_running(app_name, alias, with_args, **kwargs)

    def get_channel(self, alias):
        """The channel of ``alias``; None if it is not running."""
        return self._channels.get(alias)

    def terminate(self, alias):
        """Closes the channel of ``alias`` and ends its process."""
        channel = self._channels.pop(alias)
        channel.close()
        self._native.terminate(alias)
