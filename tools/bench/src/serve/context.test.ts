import { expect, it } from 'vitest';
import { parseBenchOptions } from './context.ts';

it('measures the champion unless a folder or a version is named', () => {
  expect(parseBenchOptions([]).model).toBeUndefined();
  expect(parseBenchOptions(['--model', '/models/distilbert-base']).model).toEqual({ dir: '/models/distilbert-base' });
  expect(parseBenchOptions(['--version', 'v3']).model).toEqual({ version: 'v3' });
});

it('refuses a model named twice and sizes that are not positive', () => {
  expect(() => parseBenchOptions(['--model', '/m', '--version', 'v3'])).toThrow('--model and --version name the model twice');
  expect(() => parseBenchOptions(['--seconds', '0'])).toThrow('--seconds must be a positive number');
});
