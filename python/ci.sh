#!/usr/bin/env bash
# The Python package on a fresh Debian machine: build and install it in a
# fresh venv (`pip install ./python`, a release build), then run the Python
# runner's own suite through the shim (it must pass 22 of 22) and
# procloop's own Python suite.
set -euxo pipefail
cd "$(dirname "$0")"

export DEBIAN_FRONTEND=noninteractive
if ! python3 -m venv --help >/dev/null 2>&1 || ! command -v socat >/dev/null || ! command -v setsid >/dev/null; then
  apt-get update
  # socat: the runner suite's socket apps; util-linux: setsid.
  apt-get install -y python3 python3-venv python3-pip socat util-linux
fi

venv=$(mktemp -d)/venv
python3 -m venv "$venv"
# chess (python-chess): the tournament example checks moves and writes PGN with it.
"$venv/bin/pip" install --upgrade pip maturin pytest chess
"$venv/bin/pip" install ./

# yet-another-runner 0.6.0's sdist holds its tests; its `runner` and
# `channels` imports get the shim packages in tests/shim. It runs in its own
# session: two of its tests send SIGINT to their whole process group.
sdist=$(mktemp -d)
"$venv/bin/pip" download --no-deps --no-binary :all: --dest "$sdist" yet-another-runner==0.6.0
tar -xzf "$sdist"/yet-another-runner-0.6.0.tar.gz -C "$sdist"
(cd "$sdist/yet-another-runner-0.6.0" &&
  PYTHONPATH="$OLDPWD/tests/shim" setsid -w "$venv/bin/python" -m pytest -p procloop_shim -p no:cacheprovider tests)

# procloop's own suite, from its folder so that the installed package is the
# one imported, not the sources in ./procloop (the shim's folder holds no tests).
(cd tests && "$venv/bin/python" -m pytest -p no:cacheprovider --ignore=shim .)
