#!/bin/sh
# Cloud Run: moves $PERCENT of $FUNCTION's traffic to the revision tagged $TO (sha-<7 hex>, as
# deploy-functions.sh tags each), the rest to the one serving the most now besides it. No new
# revision is made. With the environment the deploy had (GCP_*, MLOPS_STORE); appends the new split
# to $GITHUB_STEP_SUMMARY.
set -eu
cd "$(dirname "$0")/../../.."
: "${FUNCTION:?FUNCTION must name the function}" "${TO:?TO must be a revision tag (sha-<7 hex>) or a revision name}"
[ -d node_modules ] || ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund --loglevel=error
set -- traffic "$FUNCTION" --provider cloudrun --to "$TO" --percent "${PERCENT:-100}"
[ -z "${GITHUB_STEP_SUMMARY:-}" ] || set -- "$@" --summary "$GITHUB_STEP_SUMMARY"
npx tsx tools/deploy/src/main.ts "$@"
