"""The Python runner's API on procloop's engine, module for module:
``procloop.compat.runner`` (yet-another-runner 0.6.0) and
``procloop.compat.channels`` with ``.poller`` and ``.testing``
(yet-another-io-channels-library 0.2.4). Code written for them runs
unchanged once its ``runner`` and ``channels`` imports point here."""
