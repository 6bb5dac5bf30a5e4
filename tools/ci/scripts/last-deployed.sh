#!/bin/sh
# Prints base=<commit>, also to $GITHUB_OUTPUT when set: the commit the last successful run of the
# deploy workflow on main deployed, which the changes to deploy now are counted from. Not the push's
# own base: a push whose run was cancelled (concurrency keeps one pending run) or failed would
# otherwise never reach production. Empty, so every function is deployed, for a run by hand and
# before the first successful run. Reads the Actions API with gh ($GH_TOKEN, actions: read).
set -eu
: "${GITHUB_REPOSITORY:?GITHUB_REPOSITORY must name the repository (owner/name)}"
base=""
if [ "${GITHUB_EVENT_NAME:-push}" != workflow_dispatch ]; then
  base=$(gh api "repos/$GITHUB_REPOSITORY/actions/workflows/${WORKFLOW_FILE:-deploy.yml}/runs?branch=main&status=success&per_page=1" \
    --jq '.workflow_runs[0].head_sha // ""')
fi
echo "base=$base"
[ -z "${GITHUB_OUTPUT:-}" ] || echo "base=$base" >>"$GITHUB_OUTPUT"
