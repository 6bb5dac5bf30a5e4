export { defaultData, loadSettings, REPO_ROOT, SettingsError, type Settings } from './settings.ts';
