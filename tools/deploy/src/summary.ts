/**
 * What a deploy changed, as a Markdown table for the pipeline's job summary ($GITHUB_STEP_SUMMARY):
 * per function, what was done, the image, the revision or version now live, its URL and traffic.
 */
import { appendFile } from 'node:fs/promises';

export interface LiveFunction {
  /** A function, or another deployed thing (the trainer's job). */
  name: string;
  /** created, updated, traffic… (a dry run: "would …"). */
  action: string;
  image?: string;
  /** The revision (Cloud Run, Cloud Functions) or version (Lambda) serving after the deploy. */
  live?: string;
  url?: string;
  /** How traffic is split, when it is. */
  traffic?: string;
}

const cell = (text: string | undefined): string => (text ? text.replace(/\|/g, '\\|').replace(/\n/g, ' ') : '–');
const code = (text: string | undefined): string => (text ? `\`${cell(text)}\`` : '–');

export function summaryMarkdown(provider: string, dryRun: boolean, rows: readonly LiveFunction[]): string {
  const lines = [
    `### ${dryRun ? 'Dry run: what a deploy' : 'Deployed'} to ${provider}${dryRun ? ' would do' : ''}`,
    '',
    '| function | action | image | live | URL | traffic |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) => `| ${cell(r.name)} | ${cell(r.action)} | ${code(r.image)} | ${code(r.live)} | ${cell(r.url)} | ${cell(r.traffic)} |`,
    ),
  ];
  return `${lines.join('\n')}\n\n`;
}

/** Appends the table to `file` (the job summary is one file the steps of a job append to). */
export async function writeSummary(file: string, provider: string, dryRun: boolean, rows: readonly LiveFunction[]): Promise<void> {
  await appendFile(file, summaryMarkdown(provider, dryRun, rows));
}
