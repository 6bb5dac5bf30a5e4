export { registerHttpFunction } from './handler.ts';
