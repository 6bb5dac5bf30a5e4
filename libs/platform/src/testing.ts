export { httpApiV2Event, httpApiV2Request, s3ObjectCreatedEvent } from './aws-lambda/events.testing.ts';
