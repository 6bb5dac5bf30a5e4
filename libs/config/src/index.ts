export { loadSettings, SettingsError, type Settings } from './settings.ts';
