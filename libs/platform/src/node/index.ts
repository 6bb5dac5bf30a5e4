export { serveNode } from './handler.ts';
export type { NodeServeOptions, NodeServer } from './types.ts';
