#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows/*.yml) with actionlint: workflow syntax
# and schema, `${{ }}` expressions and their contexts (inputs, vars, needs, steps outputs), job
# dependencies, action inputs of well-known actions, and - when shellcheck is on PATH - the
# `run:` scripts. Offline once installed.
#
# actionlint is a Go program: it is built from the Go module proxy (`go install`, ~20 s once)
# into .venv-tools/bin, next to the project's other non-npm tools. Debian has no actionlint
# package, and the PyPI wrappers download the binary from GitHub at install time.
#
# Usage: bash scripts/lint-workflows.sh [workflow files...]   (default: every workflow)
# Environment: TOOLS_VENV  the tools folder (default .venv-tools)
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT_VERSION=1.7.12
tools="${TOOLS_VENV:-.venv-tools}"
actionlint="$tools/bin/actionlint"

if ! "$actionlint" -version 2>/dev/null | head -n 1 | grep -qx "v$ACTIONLINT_VERSION"; then
  if ! command -v go >/dev/null; then
    echo "lint-workflows: actionlint $ACTIONLINT_VERSION is not in $tools/bin and building it needs Go (https://go.dev/dl/, or apt-get install golang-go)" >&2
    exit 1
  fi
  echo "lint-workflows: building actionlint $ACTIONLINT_VERSION into $tools/bin" >&2
  mkdir -p "$tools/bin"
  GOBIN="$(cd "$tools/bin" && pwd)" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
fi

if [ $# -eq 0 ]; then
  shopt -s nullglob
  set -- .github/workflows/*.yml .github/workflows/*.yaml
fi
if command -v shellcheck >/dev/null; then shellcheck_note="run: scripts checked with $(command -v shellcheck)"; else shellcheck_note="run: scripts not checked (no shellcheck on PATH; apt-get install shellcheck)"; fi
echo "actionlint $ACTIONLINT_VERSION: $* ($shellcheck_note)" >&2
exec "$actionlint" -no-color "$@"
