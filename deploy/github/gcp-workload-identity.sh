#!/bin/sh
# Run once per GCP project (by someone allowed to change IAM) so that GitHub Actions can deploy
# without a key: a Workload Identity pool and provider that trust GitHub's OIDC tokens for this
# repository only, and a deployer service account those tokens may impersonate, with the roles
# `nx deploy` needs and no more, and the Artifact Registry repository the pipeline pushes images to.
# Prints the repository/environment variables to set.
#   GCP_PROJECT=p GCP_REGION=europe-west1 GITHUB_REPOSITORY=owner/repo \
#     GCP_SERVICE_ACCOUNT=mlops-functions@p.iam.gserviceaccount.com sh deploy/github/gcp-workload-identity.sh
set -eu
: "${GCP_PROJECT:?the project to deploy to}"
: "${GCP_REGION:?the region of the functions and of the image repository}"
: "${GITHUB_REPOSITORY:?owner/repo of the repository whose workflows deploy}"
: "${GCP_SERVICE_ACCOUNT:?the functions' runtime service account (the deploy acts as it)}"
POOL="${POOL:-github}"
PROVIDER="${PROVIDER:-github-actions}"
DEPLOYER="${DEPLOYER:-mlops-deployer}"
DEPLOYER_EMAIL="$DEPLOYER@$GCP_PROJECT.iam.gserviceaccount.com"
IMAGES="${IMAGES:-mlops}"
NUMBER=$(gcloud projects describe "$GCP_PROJECT" --format='value(projectNumber)')

gcloud iam workload-identity-pools create "$POOL" --project="$GCP_PROJECT" --location=global \
  --display-name="GitHub Actions"
# Only tokens minted for this repository's workflows are accepted (the attribute condition).
gcloud iam workload-identity-pools providers create-oidc "$PROVIDER" --project="$GCP_PROJECT" \
  --location=global --workload-identity-pool="$POOL" \
  --issuer-uri="https://token.actions.githubusercontent.com" \
  --attribute-mapping="google.subject=assertion.sub,attribute.repository=assertion.repository,attribute.environment=assertion.environment" \
  --attribute-condition="assertion.repository == '$GITHUB_REPOSITORY'"

gcloud iam service-accounts create "$DEPLOYER" --project="$GCP_PROJECT" --display-name="mlops deployer (GitHub Actions)"
gcloud iam service-accounts add-iam-policy-binding "$DEPLOYER_EMAIL" --project="$GCP_PROJECT" \
  --role=roles/iam.workloadIdentityUser \
  --member="principalSet://iam.googleapis.com/projects/$NUMBER/locations/global/workloadIdentityPools/$POOL/attribute.repository/$GITHUB_REPOSITORY"

# The images build-images.sh pushes, tagged with their commit (the deploy names them by digest).
gcloud artifacts repositories create "$IMAGES" --project="$GCP_PROJECT" --location="$GCP_REGION" \
  --repository-format=docker --description="mlops functions and trainer images"

# What nx deploy does: Cloud Run services and their IAM (run.admin), Cloud Functions (cloudfunctions.developer),
# images (artifactregistry.writer), evaluate's schedule (cloudscheduler.admin), batch-score's trigger (eventarc.admin),
# Cloud Functions' source zips (storage.objectAdmin, on the store's bucket would be narrower).
for role in roles/run.admin roles/cloudfunctions.developer roles/artifactregistry.writer \
  roles/cloudscheduler.admin roles/eventarc.admin roles/storage.objectAdmin; do
  gcloud projects add-iam-policy-binding "$GCP_PROJECT" --member="serviceAccount:$DEPLOYER_EMAIL" --role="$role" --condition=None >/dev/null
done
# Deploying a service that runs as the functions' account needs actAs on that account only.
gcloud iam service-accounts add-iam-policy-binding "$GCP_SERVICE_ACCOUNT" --project="$GCP_PROJECT" \
  --role=roles/iam.serviceAccountUser --member="serviceAccount:$DEPLOYER_EMAIL"

echo "GCP_WORKLOAD_IDENTITY_PROVIDER=projects/$NUMBER/locations/global/workloadIdentityPools/$POOL/providers/$PROVIDER"
echo "GCP_DEPLOYER_SERVICE_ACCOUNT=$DEPLOYER_EMAIL"
echo "GCP_PROJECT_NUMBER=$NUMBER"
echo "GCP_IMAGE_REPO=$GCP_REGION-docker.pkg.dev/$GCP_PROJECT/$IMAGES"
