/**
 * YAML for the plain JSON-like values this tool emits (manifests, serverless.yml), written by the
 * `yaml` package. Quoting follows YAML 1.1, as the readers do: gcloud takes `yes`/`on` for
 * booleans, and serverless' js-yaml takes an unquoted 2012-10-17 (an IAM policy Version) for a date.
 */
import { Document } from 'yaml';

export type Yamlable = string | number | boolean | null | undefined | readonly Yamlable[] | { readonly [key: string]: Yamlable };

/** `value` is plain data: a Yamlable, or an SDK request object of the same kind. */
export function toYaml(value: unknown, header?: string): string {
  // Plain data: an object used twice is written twice (no anchors or aliases).
  const doc = new Document(value, { version: '1.1', aliasDuplicateObjects: false });
  if (header)
    doc.commentBefore = header
      .split('\n')
      .map((line) => ` ${line}`)
      .join('\n');
  // lineWidth 0: long strings (descriptions, URLs) stay on one line.
  return doc.toString({ lineWidth: 0 });
}
