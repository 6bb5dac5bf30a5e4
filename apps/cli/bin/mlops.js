#!/usr/bin/env node
// Runs the TypeScript sources directly: tsx is resolved from this file, so `npx mlops` works anywhere in the repo.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
