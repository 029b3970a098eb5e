"""A pytest plugin for running yet-another-runner 0.6.0's own test suite,
unchanged, on procloop (with this folder on PYTHONPATH, so that its
``import runner`` and ``import channels`` get the shim packages here):

    PYTHONPATH=python/tests/shim setsid -w python -m pytest -p procloop_shim <sdist>/tests

(``setsid``: two of its tests send SIGINT to their whole process group.)

It first checks that ``runner`` and ``channels`` are the shims here (run
from the sdist's folder, Python would find the library's own ``runner``
first) and refuses to run otherwise.

What it changes, and only when the tests are collected, never their files:

- The suite's two read helpers (``readline`` in test_runner.py, ``_readall``
  in test_lines.py) return the first read that is not None. ``read()`` never
  returns None, so they return the first read, ``b''`` if the child has not
  answered within a millisecond: a race the Python runner itself loses in
  most runs. As agreed for this suite, a test counts as passing when it
  passes with the helper taking the first *non-empty* read: the plugin swaps
  each helper for one that makes the same number of tries, the same sleep
  apart, and returns the first non-empty read (or the last read, ``b''``, if
  none was). Set ``PROCLOOP_SHIM_STRICT=1`` to run the helpers as written.
- On Python 3.12 and later, ``unittest`` lost ``assertEquals``, which the
  suite uses: the plugin puts the alias back (``assertEqual``).
- SIGINT gets Python's own handler back if it was ignored: the two tests
  that send it expect ``KeyboardInterrupt``, and a shell without job control
  starts a background command with SIGINT ignored, which Python keeps (so
  a CI script run with ``&`` failed both).
"""

import os
import signal
import time
import unittest

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))

# Each helper the suite defines, and how many tries it makes.
_HELPERS = {"readline": 1000, "_readall": 100}


def _check_shims_are_imported():
    """Refuses to run if ``runner`` or ``channels`` is not the shim here:
    run from the sdist's folder, Python finds the library's own ``runner``
    before PYTHONPATH, and the suite would test the library, not procloop."""
    import channels
    import runner

    for module in (runner, channels):
        found = os.path.dirname(os.path.dirname(os.path.abspath(module.__file__)))
        if found != _HERE:
            raise pytest.UsageError(
                f"procloop_shim: `import {module.__name__}` found {module.__file__}, not the shim in "
                f"{_HERE}: remove that package (or run from another folder) so that the suite tests procloop"
            )


def _first_non_empty(tries):
    def helper(channel):
        data = None
        for _ in range(tries):
            time.sleep(0.001)
            data = channel.read()
            if data:
                return data
        return data

    return helper


def pytest_configure(config):
    _check_shims_are_imported()
    if not hasattr(unittest.TestCase, "assertEquals"):
        unittest.TestCase.assertEquals = unittest.TestCase.assertEqual
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(session, config, items):
    if os.environ.get("PROCLOOP_SHIM_STRICT") == "1":
        return
    modules = {item.module for item in items if getattr(item, "module", None) is not None}
    for module in modules:
        for name, tries in _HELPERS.items():
            if callable(getattr(module, name, None)):
                setattr(module, name, _first_non_empty(tries))
