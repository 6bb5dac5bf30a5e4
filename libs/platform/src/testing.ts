export { httpApiV2Event, httpApiV2Request, s3ObjectCreatedEvent, scheduledEvent } from './aws-lambda/events.testing.ts';
