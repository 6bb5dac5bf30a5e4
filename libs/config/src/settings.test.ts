import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from './settings.ts';

describe('loadSettings', () => {
  it('fills defaults for the embedded setup', () => {
    const s = loadSettings({});
    expect(s.MLOPS_STORE).toMatch(/\/\.mlops$/);
    expect(s.MLOPS_DATA_DIR).toMatch(/\/shared\/data$/);
    expect(s.MLOPS_MODEL).toBe('sentiment');
  });

  it('names the bad variable', () => {
    expect(() => loadSettings({ MLOPS_MODEL: '../etc' })).toThrow(SettingsError);
    expect(() => loadSettings({ MLOPS_MODEL: '../etc' })).toThrow(/MLOPS_MODEL/);
  });
});
