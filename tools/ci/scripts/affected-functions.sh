#!/bin/sh
# Prints functions=<JSON array>, trainer=<true|false> and sha=<the commit>, also to $GITHUB_OUTPUT when set: the
# functions (Nx projects with a deploy target) that the commits since $BASE touch, directly or
# through a library they depend on, and whether the trainer's image changes. A new trainer image
# goes out with retrain-trigger's deploy (it names the image the training jobs run), so it is named too.
# The images' own files are no project's: a change to deploy/functions.Dockerfile or package-lock.json
# names every function, one to a trainer Dockerfile the trainer; so does a change to the deploy tool
# or the bundler (@mlops/deploy, @mlops/build), which decide how every function is shipped.
# No BASE (a run by hand), or one git does not know (a first push, a force-push), names every function and the trainer.
set -eu
cd "$(dirname "$0")/../../.."
names() { node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).map((p)=>p.replace(/^@mlops\//,"")).sort().join(" ")))'; }
deployable=$(npx nx show projects --with-target deploy --json | names)
if [ -z "${BASE:-}" ] || ! git cat-file -e "${BASE}^{commit}" 2>/dev/null; then
  selected="$deployable trainer"
else
  selected=$(npx nx show projects --affected --base="$BASE" --head=HEAD --json | names)
  changed=$(git diff --name-only "$BASE" HEAD)
  if printf '%s\n' "$changed" | grep -qx -e 'deploy/functions.Dockerfile' -e 'deploy/functions.Dockerfile.dockerignore' -e 'package-lock.json'; then
    selected="$selected $deployable"
  fi
  if printf '%s\n' "$changed" | grep -q '^deploy/trainer-'; then selected="$selected trainer"; fi
  case " $selected " in *" deploy "* | *" build "*) selected="$selected $deployable" ;; esac
fi
trainer=false
case " $selected " in *" trainer "*) trainer=true selected="$selected retrain-trigger" ;; esac
# The deployable ones among the selected, each once, sorted.
functions=$(node -e 'const [d, s] = process.argv.slice(1).map((x) => x.split(" ").filter(Boolean)); console.log(JSON.stringify(d.filter((f) => s.includes(f))))' "$deployable" "$selected")
# The commit itself: a ref given by hand (a tag, a branch) names images and revision tags by its sha.
outputs=$(printf 'functions=%s\ntrainer=%s\nsha=%s' "$functions" "$trainer" "$(git rev-parse HEAD)")
echo "$outputs"
[ -z "${GITHUB_OUTPUT:-}" ] || echo "$outputs" >>"$GITHUB_OUTPUT"

