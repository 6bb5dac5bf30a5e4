import { ConfigLabelsSchema } from '@mlops/monitoring';
import { promoteDeps, rollbackChampion } from '@mlops/promote';
import { createContext, dataPath } from '../context.ts';
import { importModel } from '../import-model.ts';
import { createOutput, pct, table } from '../output.ts';

function metric(metrics: Record<string, unknown>, dataset: string, name: string): number | undefined {
  const value = (metrics[dataset] as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'number' ? value : undefined;
}

export async function registryList(flags: { json: boolean }): Promise<void> {
  const out = createOutput(flags.json);
  const { registry } = createContext();
  const [versions, champion, challenger] = await Promise.all([
    registry.listVersions(),
    registry.getAlias('champion'),
    registry.getAlias('challenger'),
  ]);
  const aliasesOf = (v: string) =>
    [champion, challenger]
      .filter((a) => a?.version === v)
      .map((a) => a!.alias)
      .join(',');
  out.result(
    versions.length === 0
      ? `no versions in ${registry.store.uri}`
      : table([
          ['version', 'created', 'aliases', 'validation acc', 'eval acc', 'parent'],
          ...versions.map((v) => [
            v.version,
            v.created,
            aliasesOf(v.version),
            pct(metric(v.metrics, 'validation', 'accuracy')),
            pct(metric(v.metrics, 'eval', 'accuracy')),
            v.parent ?? '',
          ]),
        ]),
    { ok: true, versions, aliases: { champion: champion ?? null, challenger: challenger ?? null } },
  );
}

export async function registryShow(version: string, flags: { json: boolean }): Promise<void> {
  const out = createOutput(flags.json);
  const { registry } = createContext();
  const info = await registry.getVersion(version);
  // The classes in the model's order, from its config.json: what its probabilities and metrics are keyed by.
  const shown = { ...info, classes: await registry.readVersionJson(version, 'config.json', ConfigLabelsSchema) };
  out.result(JSON.stringify(shown, null, 2), { ok: true, ...shown });
}

export async function registrySetAlias(
  alias: string,
  version: string,
  flags: { expect?: string; reason?: string; json: boolean },
): Promise<void> {
  const out = createOutput(flags.json);
  const { registry, settings } = createContext();
  const record = await registry.setAlias(alias, version, {
    actor: settings.MLOPS_ACTOR,
    reason: flags.reason ?? 'set by hand (mlops registry set-alias)',
    ...(flags.expect !== undefined ? { expectedVersion: flags.expect === 'none' ? null : flags.expect } : {}),
  });
  out.result(`${record.alias} → ${record.version}`, { ok: true, ...record });
}

export async function registryAudit(flags: { json: boolean }): Promise<void> {
  const out = createOutput(flags.json);
  const { registry } = createContext();
  const events = await registry.audit();
  out.result(
    table([
      ['time', 'action', 'version', 'alias', 'from → to', 'actor', 'reason'],
      ...events.map((e) => [
        e.time,
        e.action,
        e.version ?? '',
        e.alias ?? '',
        e.from || e.to ? `${e.from ?? '-'} → ${e.to ?? '-'}` : '',
        e.actor,
        e.reason,
      ]),
    ]),
    { ok: true, events },
  );
}

/** Restores an earlier champion at once (default: the previous one), as promote's /v1/rollback does. */
export async function registryRollback(
  version: string | undefined,
  flags: { json: boolean; expect?: string | undefined; reason?: string | undefined },
): Promise<void> {
  const out = createOutput(flags.json);
  const deps = promoteDeps(process.env, 2);
  const result = await rollbackChampion(deps, {
    to: version,
    reason: flags.reason ?? 'manual rollback from the CLI',
    expected: flags.expect,
  });
  const repeated = result.repeated ? ' (already rolled back: name a version to go further back)' : '';
  out.result(`champion: ${result.from ?? 'none'} → ${result.to}${repeated}`, { ok: true, ...result });
}

/** Registers an already trained Hugging Face folder (ONNX, tokenizer.json, config.json with id2label). */
export async function registryImport(
  dir: string,
  flags: {
    reference?: string | undefined;
    eval?: string | undefined;
    textField?: string | undefined;
    labelField?: string | undefined;
    reason?: string | undefined;
    json: boolean;
  },
): Promise<void> {
  const out = createOutput(flags.json);
  const { registry, settings } = createContext();
  const result = await importModel({
    dir,
    ...(flags.reference && { reference: dataPath(flags.reference) }),
    ...(flags.eval && { eval: dataPath(flags.eval) }),
    textField: flags.textField,
    labelField: flags.labelField,
    registry,
    actor: settings.MLOPS_ACTOR,
    reason: flags.reason,
    onProgress: out.info,
  });
  const { version, champion, classes, metrics, reference } = result;
  out.result(
    [
      `registered ${version.version}${champion ? ' (champion)' : ''} from ${dir}: ${classes.join(', ')}`,
      metrics ? `eval: accuracy ${pct(metrics.accuracy)}, macro F1 ${pct(metrics.macro_f1)}, n=${metrics.n}` : 'not evaluated (no --eval)',
      reference ? `drift reference: ${reference.n} texts` : 'no drift reference (no --reference): evaluate measures no drift for it',
    ].join('\n'),
    { ok: true, version: version.version, champion, classes, metrics: metrics ?? null, reference: reference ?? null, files: version.files },
  );
}
