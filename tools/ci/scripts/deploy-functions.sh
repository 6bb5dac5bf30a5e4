#!/bin/sh
# Deploys each function of $FUNCTIONS (a JSON array) to $MLOPS_PROVIDER with the environment the
# workflow gives (its GitHub environment's variables; credentials from the keyless auth step).
# Cloud Run: builds and pushes each function's image tagged $IMAGE_TAG (the commit) first.
# Fails on the first missing setting with the deploy tool's one message naming all of them.
# DRY_RUN=true writes and prints the requests under $OUT (default dist/deploy) instead: no image, no cloud call.
set -eu
cd "$(dirname "$0")/../../.."
: "${MLOPS_PROVIDER:?set the repository variable MLOPS_PROVIDER to cloudrun, cloudfunctions or lambda}"
: "${FUNCTIONS:?FUNCTIONS must be a JSON array of function names}"
[ -d node_modules ] || ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund --loglevel=error
for fn in $(printf '%s' "$FUNCTIONS" | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).join(" ")))'); do
  if [ "${DRY_RUN:-false}" = true ]; then
    npx tsx tools/deploy/src/main.ts "$fn" --provider "$MLOPS_PROVIDER" --dry-run --out "${OUT:-dist/deploy}"
    continue
  fi
  if [ "$MLOPS_PROVIDER" = cloudrun ]; then
    : "${GCP_IMAGE_REPO:?set GCP_IMAGE_REPO in the environment's variables}" "${IMAGE_TAG:?}"
    gcloud auth configure-docker "${GCP_IMAGE_REPO%%/*}" --quiet
    image="$GCP_IMAGE_REPO/mlops-$fn:$IMAGE_TAG"
    docker build -f deploy/functions.Dockerfile --build-arg FUNCTION="$fn" -t "$image" .
    docker push "$image"
  fi
  npx tsx tools/deploy/src/main.ts "$fn" --provider "$MLOPS_PROVIDER"
done
