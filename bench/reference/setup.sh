#!/usr/bin/env bash
# Creates (or reuses) the Python venv for the scikit-learn reference benchmark.
#
#   bash bench/reference/setup.sh        # prints the venv's python path on the last stdout line
#   PY="$(bench/reference/setup.sh | tail -n 1)"
#
# Idempotent: the venv at bench/.venv is (re)built only when it is missing, broken, or when
# bench/reference/requirements.txt changed (its sha256 is kept in bench/.venv/.requirements.sha256,
# written only after a successful install). Everything except the final path goes to stderr.
#
# Needs only python3 (>= 3.11) and PyPI. Environment overrides:
#   PYTHON=/path/to/python3   interpreter used to create the venv (default: python3)
#   BENCH_VENV=/path/to/venv  venv location (default: bench/.venv)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bench_dir="$(dirname "$here")"
venv="${BENCH_VENV:-$bench_dir/.venv}"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
host_python="${PYTHON:-python3}"

log() { printf '[bench/reference/setup] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v "$host_python" >/dev/null 2>&1 || die "'$host_python' not found (set PYTHON=...)"
[ -f "$req" ] || die "missing $req"
"$host_python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || die "Python >= 3.11 is required (got $("$host_python" -V 2>&1)); set PYTHON=..."

# sha256 via Python, so this does not depend on sha256sum/shasum being installed.
want="$("$host_python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$req")"

# Serialize concurrent runs (e.g. parallel test workers) when flock is available.
if command -v flock >/dev/null 2>&1; then
  lock_id="$("$host_python" -c 'import hashlib, sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest()[:16])' "$venv")"
  exec 9>"${TMPDIR:-/tmp}/bench-reference-venv-$lock_id.lock"
  flock 9
fi

venv_ok() {
  [ -x "$venv/bin/python" ] || return 1
  [ -f "$stamp" ] || return 1
  [ "$(cat "$stamp")" = "$want" ] || return 1
  "$venv/bin/python" -c 'import sklearn, numpy, scipy' >/dev/null 2>&1 || return 1
}

if venv_ok; then
  log "venv up to date: $venv"
else
  if [ -e "$venv" ]; then
    # Only ever delete something that is a venv (or an empty directory).
    if [ -f "$venv/pyvenv.cfg" ] || { [ -d "$venv" ] && [ -z "$(ls -A "$venv")" ]; }; then
      log "requirements changed or venv incomplete: rebuilding $venv"
      rm -rf "$venv"
    else
      die "$venv exists but is not a venv; refusing to delete it"
    fi
  fi
  pip_args=(install --quiet --disable-pip-version-check --no-input --only-binary=:all: -r "$req")
  if "$host_python" -m venv "$venv" >&2; then
    "$venv/bin/python" -m pip "${pip_args[@]}" >&2
  else
    # Some distros ship python3 without ensurepip (python3-venv). Fall back to a pip-less venv
    # and install into it with the host's pip (pip >= 22.3 supports --python).
    log "python3 -m venv failed (no ensurepip?); retrying with --without-pip and the host pip"
    rm -rf "$venv"
    "$host_python" -m venv --without-pip "$venv" >&2
    "$host_python" -m pip --python "$venv/bin/python" "${pip_args[@]}" >&2
  fi
  "$venv/bin/python" -c 'import sklearn, numpy, scipy' >&2 || die "installed venv cannot import sklearn/numpy/scipy"
  printf '%s\n' "$want" >"$stamp"
  log "venv ready: $venv"
fi

printf '%s\n' "$venv/bin/python"
