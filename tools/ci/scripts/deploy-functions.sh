#!/bin/sh
# Deploys the functions of $FUNCTIONS (a JSON array) to $MLOPS_PROVIDER in one run of the deploy
# tool, non-interactive: every setting and image digest is checked before anything is sent, and
# the first thing missing fails the step with one message. From the workflow's environment:
#   IMAGES                images by digest, as build-images.sh printed them (Cloud Run's functions, the trainer)
#   FUNCTION_SETTINGS     the functions' own settings as dotenv lines (JOBS_LAUNCHER=…, EVALUATE_…); never secrets
#   IMAGE_TAG             the commit: on Cloud Run each new revision is tagged sha-<7 hex>, its own URL
#   NEW_REVISION_PERCENT  Cloud Run: the new revisions' share of traffic (default 100); the serving ones keep the rest.
#                         A run by hand (a rollback) gives them all of it at once.
#   ENVIRONMENT, BASE     for the job summary's heading: where, and the commit the changes are counted from
# What was deployed (revision or version, URL, traffic) is appended to $GITHUB_STEP_SUMMARY.
# DRY_RUN=true writes and prints the requests under $OUT (default dist/deploy) instead: no cloud call.
set -eu
cd "$(dirname "$0")/../../.."
: "${MLOPS_PROVIDER:?set the repository variable MLOPS_PROVIDER to cloudrun, cloudfunctions or lambda}"
: "${FUNCTIONS:?FUNCTIONS must be a JSON array of function names}"
[ -d node_modules ] || ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund --loglevel=error
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%s\n' "${IMAGES:-}" >"$work/images.json"
[ -n "${IMAGES:-}" ] || echo '{}' >"$work/images.json"
printf '%s\n' "${FUNCTION_SETTINGS:-}" >"$work/settings.env"
names=$(node tools/ci/scripts/function-names.mjs)
set -f # the names are words, never patterns
# shellcheck disable=SC2086 # one argument per function name
set -- $names --provider "$MLOPS_PROVIDER" --non-interactive --images "$work/images.json" --env-file "$work/settings.env"
if [ "$MLOPS_PROVIDER" = cloudrun ]; then
  : "${IMAGE_TAG:?IMAGE_TAG must be the commit being deployed}"
  percent="${NEW_REVISION_PERCENT:-100}"
  [ "${GITHUB_EVENT_NAME:-}" != workflow_dispatch ] || percent=100
  set -- "$@" --tag "sha-$(printf '%.7s' "$IMAGE_TAG")" --traffic "$percent"
fi
[ "${DRY_RUN:-false}" != true ] || set -- "$@" --dry-run --out "${OUT:-dist/deploy}"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  set -- "$@" --summary "$GITHUB_STEP_SUMMARY"
  {
    echo "## ${ENVIRONMENT:-deploy}: $names"
    echo
    echo "Commit \`${IMAGE_TAG:-HEAD}\`${BASE:+, changes since \`$BASE\`}."
    echo
  } >>"$GITHUB_STEP_SUMMARY"
fi
npx tsx tools/deploy/src/main.ts "$@"
