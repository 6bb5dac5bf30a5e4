/** Lambda's `aws` settings block: region, the Serverless stack's name and stage, evaluate's schedule, the alert topic. */
import { z } from 'zod';
import { envValue, type DeploySettings } from '../../config.ts';

export interface AwsSettings {
  region: string;
  stage: string;
  service: string;
  /** evaluate's EventBridge schedule (the Cloud Scheduler cron's equivalent). */
  scheduleExpression: string;
  /** Alert topic evaluate, retrain-trigger and promote may publish to. */
  snsTopicArn?: string;
}

export type AwsBlock = { aws: AwsSettings };
export type AwsDeploySettings = DeploySettings & AwsBlock;

export const awsSettingsSchema = z
  .object({
    AWS_REGION: envValue(),
    SERVERLESS_STAGE: envValue(),
    SERVERLESS_SERVICE: envValue(),
    EVALUATE_SCHEDULE_AWS: envValue(),
    ALERT_SNS_TOPIC_ARN: envValue(),
  })
  .transform((e): AwsBlock => ({
    aws: {
      // The placeholder a dry run shows when AWS_REGION is unset.
      region: e.AWS_REGION ?? 'us-east-1',
      stage: e.SERVERLESS_STAGE ?? 'prod',
      service: e.SERVERLESS_SERVICE ?? 'mlops',
      scheduleExpression: e.EVALUATE_SCHEDULE_AWS ?? 'rate(1 hour)',
      ...(e.ALERT_SNS_TOPIC_ARN ? { snsTopicArn: e.ALERT_SNS_TOPIC_ARN } : {}),
    },
  }));
