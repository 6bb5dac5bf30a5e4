export { LocalProcessLauncher } from './launcher.ts';
export type { LocalLauncherOptions } from './types.ts';
