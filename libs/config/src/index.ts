export { defaultData, loadSettings, REPO_ROOT, SettingsError, type Settings } from './settings.ts';
export { logLevel, parseSettings } from './function-settings.ts';
