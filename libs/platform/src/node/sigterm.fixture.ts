// Run as a child process by handler.test.ts: a real SIGTERM would end the test runner itself.
import { createTestApp } from '../test-app.ts';
import { serveNode } from './handler.ts';

const server = await serveNode(createTestApp(), {
  port: 0,
  hostname: '127.0.0.1',
  onShutdown: async () => {
    process.stdout.write('flushed\n');
  },
  ...(process.env['SHUTDOWN_DEADLINE_MS'] && { shutdownDeadlineMs: Number(process.env['SHUTDOWN_DEADLINE_MS']) }),
});
process.stdout.write(`listening ${server.port}\n`);
