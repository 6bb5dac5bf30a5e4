#!/bin/sh
# Prints functions=<JSON array>, also to $GITHUB_OUTPUT when set: the functions (Nx projects with a
# deploy target) that the commits since $BASE touch, directly or through a library they depend on.
# ALL=true, or a BASE git does not know (a first push, a force-push), names every function.
set -eu
cd "$(dirname "$0")/../../.."
if [ "${ALL:-false}" = true ] || [ -z "${BASE:-}" ] || ! git cat-file -e "${BASE}^{commit}" 2>/dev/null; then
  projects=$(npx nx show projects --with-target deploy --json)
else
  projects=$(npx nx show projects --affected --base="$BASE" --head=HEAD --with-target deploy --json)
fi
# Project names are @mlops/<function>: the deploy CLI takes the function.
functions=$(printf '%s' "$projects" | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.stringify(JSON.parse(s).map((p)=>p.replace(/^@mlops\//,"")).sort())))')
echo "functions=$functions"
[ -z "${GITHUB_OUTPUT:-}" ] || echo "functions=$functions" >>"$GITHUB_OUTPUT"
