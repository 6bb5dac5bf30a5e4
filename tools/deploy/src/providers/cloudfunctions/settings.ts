/** Cloud Functions' settings: the shared `gcp` block and the bucket its source zips go to. */
import { z } from 'zod';
import { envValue } from '../../config.ts';
import { gcpEnvShape, gcpSettingsFrom, type GcpBlock, type GcpDeploySettings } from '../gcp/settings.ts';

export type CloudFunctionsBlock = GcpBlock & {
  /** GCP_SOURCE_BUCKET: where the source zips are uploaded (default: the store's bucket). */
  sourceBucket?: string;
};
export type CloudFunctionsSettings = GcpDeploySettings & CloudFunctionsBlock;

export const cloudFunctionsSettingsSchema = z
  .object({ ...gcpEnvShape, GCP_SOURCE_BUCKET: envValue() })
  .transform((e): CloudFunctionsBlock => ({
    gcp: gcpSettingsFrom(e),
    ...(e.GCP_SOURCE_BUCKET ? { sourceBucket: e.GCP_SOURCE_BUCKET } : {}),
  }));
