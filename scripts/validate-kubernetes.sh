#!/usr/bin/env bash
# Validates examples/kubernetes/*.yaml against Kubernetes' own schemas (part of the test
# command; no cluster runs here): `kubernetes-validate` from PyPI, which ships the schemas of
# every Kubernetes release inside the package, in a cached venv. --strict also refuses fields a
# resource does not have (a typo would otherwise be ignored by the API server).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-venv.sh
# The Kubernetes release the manifest is checked against: backoffLimitPerIndex is GA from 1.33.
k8s_version=1.33
venv="$HOME/.cache/rateme/kubernetes-validate-1.37.0"
pinned_venv "$venv" kubernetes-validate==1.37.0
"$venv/bin/kubernetes-validate" --strict -k "$k8s_version" examples/kubernetes/*.yaml
