// Vitest global setup: a folder for this run's fault rows; at the end, fault-table.md in it and in
// the system's temporary folder (mlops-faults/fault-table.md), to copy into the issue.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { faultTable, ROWS_FILE, type FaultRow } from './fault-table.ts';

export default function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'mlops-faults-run-'));
  project.provide('faultsDir', dir);
  return () => {
    const file = join(dir, ROWS_FILE);
    if (!existsSync(file)) return;
    const rows = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as FaultRow);
    const table = `${faultTable(rows)}\n`;
    writeFileSync(join(dir, 'fault-table.md'), table);
    const latest = join(tmpdir(), 'mlops-faults');
    mkdirSync(latest, { recursive: true });
    writeFileSync(join(latest, 'fault-table.md'), table);
  };
}
