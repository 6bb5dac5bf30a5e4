import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.nx/**', 'tools/scratch/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Libs never reach into apps. Functions (predict, batch-score, …) and the training job use
      // libs only; the local front doors (the mlops CLI, benchmarks) wire jobs and functions together.
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:job', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:function', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:cli', onlyDependOnLibsWithTags: ['type:lib', 'type:job', 'type:function'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:job', 'type:function'] },
          ],
        },
      ],
    },
  },
);
