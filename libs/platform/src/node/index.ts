export { serveNode } from './handler.ts';
export type { NodeHostOptions, NodeServeOptions, NodeServer } from './types.ts';
