#!/usr/bin/env bash
# npm run cfn-lint: lints the CloudFormation templates `cdk synth` writes (cdk.out/*.template.json)
# with cfn-lint (resource schemas, property values, best practices). Python tooling stays out of
# npm's dependency tree: cfn-lint is installed, pinned, into a virtualenv under .venv-tools/.
# Suppressions live in .cfnlintrc.yaml (read by cfn-lint from the working directory), each with
# its reason. Exit status: cfn-lint's (0 clean; non-zero when it reports errors or warnings).
#
# Environment:
#   CFN_LINT_REGIONS   regions to validate against, comma-separated (default: AWS_REGION, else us-east-1)
#   TOOLS_VENV         the virtualenv folder (default .venv-tools)
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned so a new rule release cannot turn CI red overnight; raise it on purpose (pip index versions cfn-lint).
CFN_LINT_VERSION=1.58.0
venv="${TOOLS_VENV:-.venv-tools}"

if [ ! -x "$venv/bin/python" ]; then
  echo "cfn-lint: creating the Python virtualenv $venv" >&2
  python3 -m venv "$venv"
fi
if [ "$("$venv/bin/cfn-lint" --version 2>/dev/null || true)" != "cfn-lint $CFN_LINT_VERSION" ]; then
  echo "cfn-lint: installing cfn-lint $CFN_LINT_VERSION into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
fi

shopt -s nullglob
templates=(cdk.out/*.template.json)
if [ ${#templates[@]} -eq 0 ]; then
  echo "cfn-lint: no templates in cdk.out/, synthesising first" >&2
  npx cdk synth --quiet
  templates=(cdk.out/*.template.json)
fi
if [ ${#templates[@]} -eq 0 ]; then
  echo "cfn-lint: cdk synth wrote no templates to cdk.out/" >&2
  exit 1
fi

regions="${CFN_LINT_REGIONS:-${AWS_REGION:-us-east-1}}"
read -ra region_list <<< "${regions//,/ }"
echo "cfn-lint $CFN_LINT_VERSION: ${templates[*]} (regions: ${region_list[*]})" >&2
exec "$venv/bin/cfn-lint" --regions "${region_list[@]}" -- "${templates[@]}"
