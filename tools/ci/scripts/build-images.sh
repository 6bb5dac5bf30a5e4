#!/bin/sh
# Builds and pushes the images a deploy to $MLOPS_PROVIDER needs, each tagged $IMAGE_TAG (the commit),
# and reports each by digest: writes {"<image>": "<repo>/<image>@sha256:…"} (keys sorted) to $IMAGES_OUT
# (default dist/images.json) and prints images=<that JSON>, also to $GITHUB_OUTPUT when set.
# Cloud Run: mlops-<fn> (deploy/functions.Dockerfile) for each function of $FUNCTIONS (a JSON array);
# Cloud Functions and Lambda deploy source and zips, no function image.
# TRAINER=true, any provider: mlops-trainer-cpu, and with TRAINER_GPU=true mlops-trainer-gpu too.
# Registry: $GCP_IMAGE_REPO (Artifact Registry, e.g. europe-west1-docker.pkg.dev/p/mlops) on GCP,
# $AWS_IMAGE_REPO (the ECR registry <account>.dkr.ecr.<region>.amazonaws.com) and $AWS_REGION on Lambda.
# Nothing to build: writes {} and needs no registry, tag or docker.
set -eu
cd "$(dirname "$0")/../../.."
: "${MLOPS_PROVIDER:?set the repository variable MLOPS_PROVIDER to cloudrun, cloudfunctions or lambda}"
case "$MLOPS_PROVIDER" in
  cloudrun | cloudfunctions | lambda) ;;
  *)
    echo "MLOPS_PROVIDER must be cloudrun, cloudfunctions or lambda, not '$MLOPS_PROVIDER'" >&2
    exit 1
    ;;
esac
out="${IMAGES_OUT:-dist/images.json}"

functions=""
if [ "$MLOPS_PROVIDER" = cloudrun ]; then
  : "${FUNCTIONS:?FUNCTIONS must be a JSON array of function names}"
  functions=$(node tools/ci/scripts/function-names.mjs)
fi
trainers=""
if [ "${TRAINER:-}" = true ]; then
  trainers=cpu
  [ "${TRAINER_GPU:-}" != true ] || trainers="cpu gpu"
fi

if [ -z "$functions$trainers" ]; then
  echo "no image to build for $MLOPS_PROVIDER"
else
  : "${IMAGE_TAG:?IMAGE_TAG must be the commit the images are built from}"
  if ! printf '%s\n' "$IMAGE_TAG" | grep -Eqx '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}'; then
    echo "IMAGE_TAG '$IMAGE_TAG' is not a valid image tag (expected the commit sha)" >&2
    exit 1
  fi
  if [ "$MLOPS_PROVIDER" = lambda ]; then
    : "${AWS_IMAGE_REPO:?set AWS_IMAGE_REPO in the environment's variables (the ImageRepo output of deploy/github/aws-github-oidc.yaml)}"
    : "${AWS_REGION:?set AWS_REGION in the environment's variables}"
    repo="${AWS_IMAGE_REPO%/}"
    echo "logging in to ${repo%%/*}"
    aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "${repo%%/*}"
  else
    : "${GCP_IMAGE_REPO:?set GCP_IMAGE_REPO in the environment's variables (an Artifact Registry repository, e.g. europe-west1-docker.pkg.dev/my-project/mlops)}"
    repo="${GCP_IMAGE_REPO%/}"
    echo "logging in to ${repo%%/*}"
    gcloud auth configure-docker "${repo%%/*}" --quiet
  fi
fi

# "<name> <repo>/<name>@sha256:…" lines, one per image built.
built=""
# build <name> <dockerfile> [docker build options…]: builds and pushes $repo/<name>:$IMAGE_TAG, records its digest.
build() {
  name=$1 dockerfile=$2
  shift 2
  image="$repo/$name:$IMAGE_TAG"
  echo "building $image from $dockerfile"
  start=$(date +%s)
  docker build -f "$dockerfile" "$@" -t "$image" .
  docker push "$image"
  echo "built and pushed $image in $(($(date +%s) - start))s"
  # The registry's digest of what was just pushed; other repositories' digests of the same image are skipped.
  ref=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$image" | while IFS= read -r line; do
    case "$line" in
      "$repo/$name@sha256:"*)
        printf '%s\n' "$line"
        break
        ;;
    esac
  done)
  if [ -z "$ref" ] || ! printf '%s\n' "${ref#*@sha256:}" | grep -Eqx '[0-9a-f]{64}'; then
    echo "docker image inspect gives no $repo/$name@sha256:<digest> for $image: was it pushed?" >&2
    exit 1
  fi
  echo "$name: $ref"
  built="$built$name $ref
"
}
for fn in $functions; do
  build "mlops-$fn" deploy/functions.Dockerfile --build-arg FUNCTION="$fn"
done
for variant in $trainers; do
  build "mlops-trainer-$variant" "deploy/trainer-$variant.Dockerfile"
done

mkdir -p "$(dirname "$out")"
images=$(printf '%s' "$built" | IMAGES_FILE="$out" node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{const m={};for(const l of s.split("\n").filter(Boolean)){const[k,v]=l.split(" ");if(k in m){console.error(`two images named ${k}`);process.exit(1)}m[k]=v}const o=Object.fromEntries(Object.keys(m).sort().map((k)=>[k,m[k]]));require("fs").writeFileSync(process.env.IMAGES_FILE,JSON.stringify(o,null,2)+"\n");console.log(JSON.stringify(o))})')
echo "images=$images"
[ -z "${GITHUB_OUTPUT:-}" ] || echo "images=$images" >>"$GITHUB_OUTPUT"
