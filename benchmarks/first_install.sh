#!/usr/bin/env bash
# Times the README's command 1 (install, then one solve with the embedded model) as on a fresh machine:
# a fresh clone, a new venv, pip's cache off (--no-cache-dir added to each `pip install`), and pip's own
# configuration ignored (PIP_CONFIG_FILE=/dev/null, PIP_FIND_LINKS unset) so that every package comes
# from the package index, none from a local wheel folder; the solve with an empty memory and no endpoint.
#
#   benchmarks/first_install.sh [REF] [DEST]    (REF: a commit of this repository, default HEAD;
#                                                DEST: the clone, default /tmp/sg-first-install, replaced)
#
# The command is read from README.md at REF, so an older commit is timed with its own command. The solve
# may exit 1, 3 or 4 (the tiny model need not be right, nor checked); exit 2 or worse is a failure.
# Needs the network to the package index.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
ref="${1:-HEAD}"
dest="${2:-/tmp/sg-first-install}"

rm -rf "$dest"
git clone -q "$repo" "$dest"
cd "$dest"
git checkout -q "$ref"
cmd="$(grep -A1 '^# 1\. Install' README.md | tail -n 1)"
cmd="${cmd//pip install/pip install --no-cache-dir}"
install="${cmd%% && .venv/bin/solvegraph *}"
solve=".venv/bin/solvegraph ${cmd#* && .venv/bin/solvegraph }"
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL
# A user folder of its own: the default memory (whose earlier trajectories change the prompts) starts empty.
export XDG_DATA_HOME="$dest/.xdg/data" XDG_CONFIG_HOME="$dest/.xdg/config" XDG_STATE_HOME="$dest/.xdg/state"
unset SOLVEGRAPH_DB SOLVEGRAPH_BASE_URL SOLVEGRAPH_MODEL SOLVEGRAPH_MODEL_PATH

echo "commit $(git rev-parse --short HEAD), $(date -u +%F), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "install: $install"
start=$(date +%s.%N)
bash -c "$install" >pip.log 2>&1 || { echo "install failed: see $dest/pip.log" >&2; exit 1; }
installed=$(date +%s.%N)
rc=0
bash -c "$solve" >solve.out 2>solve.err || rc=$?
done_=$(date +%s.%N)
if ((rc == 2 || rc > 4)); then
  echo "the solve failed (exit $rc): see $dest/solve.err" >&2
  exit 1
fi
built=$(grep -o 'Building wheel for [^ ]*' pip.log | cut -d' ' -f4 | grep -vx solvegraph | sort -u | tr '\n' ' ' || true)
printf 'install %.0f s, solve %.0f s (exit %d), total %.0f s; built from source: %s\n' \
  "$(echo "$installed - $start" | bc)" "$(echo "$done_ - $installed" | bc)" "$rc" \
  "$(echo "$done_ - $start" | bc)" "${built:-nothing}"
