#!/usr/bin/env bash
# The Python package on a fresh Debian machine, as it would be published:
# build its abi3 wheel for glibc 2.17+ (manylinux2014, linked with zig) and
# its sdist once, install the wheel into a fresh venv with --no-index (no
# Rust toolchain there), then check its types (mypy --strict, stubtest) and
# run the Python runner's own suite through the shim (22 of 22) and
# procloop's own Python suite against it. The wheel and sdist are left in
# python/dist for publishing.
set -euxo pipefail
cd "$(dirname "$0")"

export DEBIAN_FRONTEND=noninteractive
if ! python3 -m venv --help >/dev/null 2>&1 || ! command -v socat >/dev/null || ! command -v setsid >/dev/null; then
  apt-get update
  # socat: the runner suite's socket apps; util-linux: setsid.
  apt-get install -y python3 python3-venv python3-pip socat util-linux
fi
# maturin would download a whole toolchain (~900 MB) if cargo were missing:
# say so instead.
command -v cargo >/dev/null || { echo "ci.sh: cargo is not on PATH" >&2; exit 1; }

work=$(mktemp -d)
# Its two venvs and the build take about 800 MB: gone when the script ends.
trap 'rm -rf "$work"' EXIT
build="$work/build"
python3 -m venv "$build"
"$build/bin/pip" install --upgrade pip maturin ziglang

rm -rf dist
# maturin finds zig as `python3 -m ziglang`: the build venv's python first.
PATH="$build/bin:$PATH" maturin build --release --compatibility manylinux2014 --zig --out dist
PATH="$build/bin:$PATH" maturin sdist --out dist
wheel=$(ls dist/procloop-*-cp39-abi3-*manylinux_2_17_x86_64*.whl)

# The wheel alone, from the files in dist/: nothing is fetched or built.
venv="$work/venv"
python3 -m venv "$venv"
# chess (python-chess): the tournament example checks moves and writes PGN with it.
"$venv/bin/pip" install --upgrade pip pytest mypy chess
"$venv/bin/pip" install --no-index --no-deps "$wheel"
# Ray, for examples/ray_league.py's test only (large: this venv only); the
# test skips, saying so, where it cannot be imported.
"$venv/bin/pip" install ray || echo "ci.sh: ray did not install: test_ray_league.py will skip" >&2

# Types, from outside the sources so that the installed package is checked:
# its stub against the module (stubtest), the package and the examples
# (mypy --strict).
(cd tests && "$venv/bin/python" -m mypy.stubtest procloop &&
  "$venv/bin/python" -m mypy --config-file ../pyproject.toml --strict -p procloop &&
  "$venv/bin/python" -m mypy --config-file ../pyproject.toml --strict ../examples)

# yet-another-runner 0.6.0's sdist holds its tests; its `runner` and
# `channels` imports get the shim packages in tests/shim. Its own `runner`
# package is removed first: pytest runs from the sdist's folder, which
# Python puts before PYTHONPATH, so the suite would test the library itself
# (the plugin refuses to run if it would). It runs in its own session: two
# of its tests send SIGINT to their whole process group.
sdist="$work/sdist"
"$venv/bin/pip" download --no-deps --no-binary :all: --dest "$sdist" yet-another-runner==0.6.0
tar -xzf "$sdist"/yet-another-runner-0.6.0.tar.gz -C "$sdist"
rm -rf "$sdist/yet-another-runner-0.6.0/runner"
(cd "$sdist/yet-another-runner-0.6.0" &&
  PYTHONPATH="$OLDPWD/tests/shim" setsid -w "$venv/bin/python" -m pytest -p procloop_shim -p no:cacheprovider tests)

# procloop's own suite, from its folder so that the installed package is the
# one imported, not the sources in ./procloop (the shim's folder holds no tests).
(cd tests && "$venv/bin/python" -m pytest -p no:cacheprovider --ignore=shim .)
