import { createHash } from 'node:crypto';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  jsonText,
  NotFoundError,
  PreconditionFailedError,
  randomHex,
  sha256OfFile,
  type ObjectInfo,
  type ObjectStore,
} from '@mlops/storage';
import { z } from 'zod';
import {
  AliasConflictError,
  CorruptFileError,
  MissingFilesError,
  UnknownAliasError,
  UnknownFileError,
  UnknownVersionError,
} from './errors.ts';
import {
  AliasRecordSchema,
  AuditEventSchema,
  MODEL_FILES,
  REQUIRED_MODEL_FILES,
  VersionInfoSchema,
  summarizeMetrics,
  type AliasRecord,
  type ModelFile,
  type AuditEvent,
  type VersionFile,
  type VersionInfo,
} from './schemas.ts';
import { VerifiedCache } from './verified-cache.ts';

export interface RegisterOptions {
  actor: string;
  reason: string;
  parent?: string;
  /** Point `champion` at the new version when no champion exists yet (default true). */
  becomeChampionIfNone?: boolean;
}

export interface SetAliasOptions {
  actor: string;
  reason: string;
  /** Compare-and-swap: the version the alias must point at now (null: unset), else AliasConflictError. */
  expectedVersion?: string | null;
  /** Share of traffic a challenger gets while its canary runs. */
  canaryWeight?: number;
  /** The decision behind the move (a rollback, a promotion), recorded with it: the pair is never half written. */
  events?: AuditEntry[];
}

export type AuditEntry = Omit<AuditEvent, 'time' | 'model'>;

/** A claim older than this without its version.json is an upload that died: its files are removed. */
const ORPHAN_CLAIM_MS = 6 * 3600_000;
const ClaimSchema = z.object({ actor: z.string(), time: z.iso.datetime(), content: z.string().optional(), nonce: z.string().optional() });

export interface VersionRef {
  version?: string;
  alias?: string;
}

const MODEL_NAME = /^[a-z0-9][a-z0-9._-]*$/i;
const ALIAS_NAME = /^[a-z][a-z0-9-]*$/;
const VERSION_NAME = /^v[1-9][0-9]*$/;

export function createRegistry(store: ObjectStore, model = 'sentiment'): ModelRegistry {
  return new ModelRegistry(store, model);
}

/** Immutable versions, CAS-moved aliases and an append-only audit trail for one model on a store. */
export class ModelRegistry {
  private readonly root: string;

  constructor(
    readonly store: ObjectStore,
    readonly model: string,
  ) {
    if (!MODEL_NAME.test(model)) throw new Error(`Invalid model name ${JSON.stringify(model)}: use letters, digits, ".", "_" or "-"`);
    this.root = `models/${model}`;
  }

  /**
   * Registers a model folder as the next version. Idempotent: a retry with the same content (after
   * a failure, or racing itself) returns the version the first attempt made, or finishes the one it
   * claimed, with one register event.
   */
  async registerVersion(localDir: string, opts: RegisterOptions): Promise<VersionInfo> {
    const present = await presentFiles(localDir);
    const missing = REQUIRED_MODEL_FILES.filter((path) => !present.includes(path));
    if (missing.length > 0) throw new MissingFilesError(localDir, missing);
    const metrics = summarizeMetrics(await readLocalJson(join(localDir, 'metrics.json')));
    if (opts.parent !== undefined) await this.getVersion(opts.parent);
    const files = await Promise.all(present.map((path) => describeFile(localDir, path)));
    const content = contentId(files);

    const found = await this.versionsWithContent(content);
    let info = found.complete;
    if (!info) {
      const version = found.claimed ?? (await this.claimVersion(opts.actor, content));
      await Promise.all(files.map((f) => this.store.uploadFile(this.versionKey(version, f.path), join(localDir, f.path))));
      const written: VersionInfo = {
        version,
        model: this.model,
        created: new Date().toISOString(),
        files,
        metrics,
        ...(opts.parent !== undefined && { parent: opts.parent }),
        content,
      };
      // Written last: its presence is what makes the version exist. A racing retry may have written it first.
      info = await this.store.putIfAbsent(this.versionKey(version, 'version.json'), jsonText(written)).then(
        () => written,
        async (err: unknown) => {
          if (err instanceof PreconditionFailedError) return this.getVersion(version);
          throw err;
        },
      );
    }
    // Keyed by the version, so a retry that finds the version made writes no second event.
    await this.putEventOnce(info.created, `register-${info.version}`, {
      time: info.created,
      model: this.model,
      actor: opts.actor,
      action: 'register',
      version: info.version,
      reason: opts.reason,
    });

    if (opts.becomeChampionIfNone ?? true) {
      try {
        await this.setAlias('champion', info.version, { actor: opts.actor, reason: 'first version', expectedVersion: null });
      } catch (err) {
        if (!(err instanceof AliasConflictError)) throw err; // a champion exists (or another version just won)
      }
    }
    return info;
  }

  async listVersions(): Promise<VersionInfo[]> {
    const versions: VersionInfo[] = [];
    for (const version of await this.completeVersions()) versions.push(await this.getVersion(version));
    return versions;
  }

  async getVersion(version: string): Promise<VersionInfo> {
    const unknown = async () => new UnknownVersionError(this.model, version, await this.completeVersions());
    if (!VERSION_NAME.test(version)) throw await unknown();
    const key = this.versionKey(version, 'version.json');
    const object = await this.store.get(key).catch(ifNotFound(undefined));
    if (!object) throw await unknown();
    return this.parse(VersionInfoSchema, object.body, key);
  }

  async resolve(ref: VersionRef): Promise<VersionInfo> {
    if ((ref.version === undefined) === (ref.alias === undefined)) {
      throw new Error('resolve() needs exactly one of { version } or { alias }');
    }
    if (ref.version !== undefined) return this.getVersion(ref.version);
    const alias = ref.alias as string;
    const record = await this.getAlias(alias);
    if (!record) throw new UnknownAliasError(this.model, alias, await this.aliasNames());
    return this.getVersion(record.version);
  }

  async getAlias(alias: string): Promise<AliasRecord | undefined> {
    return (await this.readAlias(alias))?.record;
  }

  /**
   * Moves an alias with compare-and-swap; without `expectedVersion` it retries until its write wins.
   * The record carries the move's audit events, written to the trail right after it.
   */
  async setAlias(alias: string, version: string, opts: SetAliasOptions): Promise<AliasRecord> {
    const key = this.aliasKey(alias);
    await this.getVersion(version);
    for (;;) {
      const current = await this.readAlias(alias);
      if (current) await this.completeAudit(current.record);
      const from = current?.record.version ?? null;
      // Already there: a retried request succeeds without a second audit event (idempotent).
      if (current && from === version && current.record.canaryWeight === opts.canaryWeight) return current.record;
      if (opts.expectedVersion !== undefined && opts.expectedVersion !== from) {
        throw new AliasConflictError(this.model, alias, opts.expectedVersion, from);
      }

      const updated = auditTime();
      const move: AuditEntry = {
        actor: opts.actor,
        action: 'set-alias',
        alias,
        ...(from !== null && { from }),
        to: version,
        reason: opts.reason,
      };
      const record: AliasRecord = {
        alias,
        version,
        updated,
        actor: opts.actor,
        reason: opts.reason,
        ...(opts.canaryWeight !== undefined && { canaryWeight: opts.canaryWeight }),
        audit: { id: randomHex(6), events: [move, ...(opts.events ?? [])].map((e) => ({ time: updated, model: this.model, ...e })) },
      };
      try {
        if (current) await this.store.putIfMatch(key, jsonText(record), current.etag);
        else await this.store.putIfAbsent(key, jsonText(record));
      } catch (err) {
        if (err instanceof PreconditionFailedError) continue; // moved meanwhile: re-read and check again
        throw err;
      }
      await this.completeAudit(record);
      return record;
    }
  }

  /**
   * Removes an alias (e.g. the challenger when its canary ends). With `expectedVersion` it only
   * removes it while it still points there. Removing an unset alias does nothing. Its events are
   * written first, keyed by the record they end, so a retry after a crash writes none twice.
   */
  async clearAlias(alias: string, opts: Omit<SetAliasOptions, 'canaryWeight'>): Promise<void> {
    const current = await this.readAlias(alias);
    if (!current) return;
    if (opts.expectedVersion !== undefined && opts.expectedVersion !== current.record.version) {
      throw new AliasConflictError(this.model, alias, opts.expectedVersion, current.record.version);
    }
    const { record } = current;
    await this.completeAudit(record);
    const id = `${record.audit?.id ?? createHash('sha256').update(current.etag).digest('hex').slice(0, 12)}-cleared`;
    const time = auditTime();
    const clear: AuditEntry = { actor: opts.actor, action: 'clear-alias', alias, from: record.version, reason: opts.reason };
    const events = [clear, ...(opts.events ?? [])];
    await Promise.all(events.map((e, i) => this.putEventOnce(record.updated, `${id}-${i}`, { time, model: this.model, ...e })));
    // The store has no conditional delete: a write racing between the read and here is lost.
    // Only promote moves the challenger, one decision at a time, so the window stays theoretical.
    await this.store.delete(this.aliasKey(alias));
  }

  /** The version that was champion before the current one, from the audit trail. */
  async previousChampion(): Promise<string | undefined> {
    const current = (await this.getAlias('champion'))?.version;
    const moves = (await this.audit()).filter(
      (e) => e.action === 'set-alias' && e.alias === 'champion' && e.to === current && e.from !== undefined,
    );
    return moves.at(-1)?.from;
  }

  /** Appends a decision to the audit trail (retrain started, candidate rejected, canary review…). */
  async recordEvent(entry: AuditEntry): Promise<void> {
    await this.appendAudit(entry);
  }

  /** The trail in time order, with the events of any alias move a crash left half written completed first. */
  async audit(): Promise<AuditEvent[]> {
    for (const alias of await this.aliasNames()) {
      const current = await this.readAlias(alias);
      if (current) await this.completeAudit(current.record);
    }
    const events: AuditEvent[] = [];
    for (const { key } of await this.store.list(`${this.root}/audit/`)) {
      events.push(this.parse(AuditEventSchema, (await this.store.get(key)).body, key));
    }
    return events.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  }

  /**
   * One file of a version, read from the store (no cache folder, nothing else of the version) and
   * checked against the sha256 in its version.json. UnknownFileError when the version has no such file.
   */
  async readVersionFile(version: string, path: string): Promise<Buffer> {
    const info = await this.getVersion(version);
    const file = info.files.find((f) => f.path === path);
    if (!file)
      throw new UnknownFileError(
        this.model,
        info.version,
        path,
        info.files.map((f) => f.path),
      );
    const { body } = await this.store.get(this.versionKey(info.version, path));
    if (body.length !== file.size || createHash('sha256').update(body).digest('hex') !== file.sha256)
      throw new CorruptFileError(this.model, info.version, path);
    return body;
  }

  /** A JSON file of a version (as readVersionFile reads it), validated by `schema`. */
  async readVersionJson<T>(version: string, path: string, schema: z.ZodType<T>): Promise<T> {
    return this.parse(schema, await this.readVersionFile(version, path), this.versionKey(version, path));
  }

  /**
   * Downloads a version into `<cacheDir>/<model>/<version>/`, skipping files already there intact
   * and those `wanted` leaves out (serving needs no training weights). A later call that wants
   * more fetches only what is missing. A cached file is hashed once, not on every call (VerifiedCache).
   */
  /** The folder `downloadVersion` fills for a version under `cacheDir`. */
  cachedVersionDir(version: string, cacheDir: string): string {
    return join(cacheDir, this.model, version);
  }

  async downloadVersion(version: string, cacheDir: string, wanted: (path: string) => boolean = () => true): Promise<string> {
    const info = await this.getVersion(version);
    const dir = this.cachedVersionDir(info.version, cacheDir);
    const cache = await VerifiedCache.open(dir);
    await Promise.all(
      info.files
        .filter((file) => wanted(file.path))
        .map(async (file) => {
          if (await cache.holds(file)) return;
          const fetched = await this.store.downloadFile(this.versionKey(info.version, file.path), join(dir, file.path));
          // A store whose etag is the sha256 of the bytes it wrote (the file store) has checked them already.
          if (fetched.etag !== file.sha256 && !(await cache.holds(file))) throw new CorruptFileError(this.model, info.version, file.path);
        }),
    );
    await cache.save();
    const tmp = join(dir, `.version.json.${randomHex(6)}.tmp`);
    await writeFile(tmp, jsonText(info));
    await rename(tmp, join(dir, 'version.json'));
    return dir;
  }

  /** Takes the next free number by creating its `.claim` object, which only one writer can do. */
  private async claimVersion(actor: string, content: string): Promise<string> {
    const taken = (await this.store.list(`${this.root}/versions/`)).map((o) => this.versionNumberOf(o.key) ?? 0);
    const claim = jsonText({ actor, time: new Date().toISOString(), content, nonce: randomHex(6) });
    for (let n = Math.max(0, ...taken) + 1; ; n++) {
      const key = this.versionKey(`v${n}`, '.claim');
      try {
        await this.store.putIfAbsent(key, claim);
        return `v${n}`;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
        // Our own claim, whose answer was lost and whose retry the store refused: the number is ours.
        const current = await this.store.get(key).catch(ifNotFound(undefined));
        if (current?.body.toString('utf8') === claim) return `v${n}`;
      }
    }
  }

  /**
   * The version already registered with this content, or the claim an earlier attempt left
   * unfinished. Claims left longer than ORPHAN_CLAIM_MS with other content are removed on the way.
   */
  private async versionsWithContent(content: string): Promise<{ complete?: VersionInfo; claimed?: string }> {
    const objects = await this.store.list(`${this.root}/versions/`);
    const byVersion = new Map<string, ObjectInfo[]>();
    for (const o of objects) {
      const n = this.versionNumberOf(o.key);
      if (n !== undefined) byVersion.set(`v${n}`, [...(byVersion.get(`v${n}`) ?? []), o]);
    }
    let claimed: string | undefined;
    for (const [version, files] of byVersion) {
      if (files.some((o) => o.key.endsWith('/version.json'))) {
        const info = await this.getVersion(version);
        if (info.content === content) return { complete: info };
        continue;
      }
      const claimKey = this.versionKey(version, '.claim');
      const claimObject = await this.store.get(claimKey).catch(ifNotFound(undefined));
      if (!claimObject) continue;
      const claim = this.parse(ClaimSchema, claimObject.body, claimKey);
      if (claim.content === content) claimed ??= version;
      else if (Date.now() - Date.parse(claim.time) > ORPHAN_CLAIM_MS) {
        // Files first, the claim last: a crash here leaves a claim to clean next time, never files without one.
        await Promise.all(files.filter((o) => o.key !== claimKey).map((o) => this.store.delete(o.key)));
        await this.store.delete(claimKey);
      }
    }
    return claimed === undefined ? {} : { claimed };
  }

  /** Versions whose version.json exists, in number order. */
  private async completeVersions(): Promise<string[]> {
    return (await this.store.list(`${this.root}/versions/`))
      .filter((o) => o.key.endsWith('/version.json'))
      .map((o) => this.versionNumberOf(o.key))
      .filter((n): n is number => n !== undefined)
      .sort((a, b) => a - b)
      .map((n) => `v${n}`);
  }

  private versionNumberOf(key: string): number | undefined {
    const match = /^v([1-9][0-9]*)\//.exec(key.slice(`${this.root}/versions/`.length));
    return match?.[1] === undefined ? undefined : Number(match[1]);
  }

  private async readAlias(alias: string): Promise<{ record: AliasRecord; etag: string } | undefined> {
    const key = this.aliasKey(alias);
    const object = await this.store.get(key).catch(ifNotFound(undefined));
    return object && { record: this.parse(AliasRecordSchema, object.body, key), etag: object.info.etag };
  }

  private async aliasNames(): Promise<string[]> {
    const prefix = `${this.root}/aliases/`;
    return (await this.store.list(prefix)).map((o) => o.key.slice(prefix.length).replace(/\.json$/, ''));
  }

  private async appendAudit(event: AuditEntry): Promise<void> {
    const time = auditTime();
    await this.putEventOnce(time, randomHex(6), { time, model: this.model, ...event });
  }

  /** Writes the events an alias record carries that are not in the trail yet (a crash came between). */
  private async completeAudit(record: AliasRecord): Promise<void> {
    if (!record.audit) return;
    const { id, events } = record.audit;
    await Promise.all(events.map((event, i) => this.putEventOnce(record.updated, `${id}-${i}`, event)));
  }

  /** An audit event under a key made of `keyTime` and `id`: written at most once, however often this runs. */
  private async putEventOnce(keyTime: string, id: string, event: AuditEvent): Promise<void> {
    // No colons in the key: they are not allowed in file names on Windows.
    const key = `${this.root}/audit/${keyTime.replaceAll(':', '')}-${id}.json`;
    if (await this.store.head(key)) return;
    await this.store.putIfAbsent(key, jsonText(event)).catch((err: unknown) => {
      if (!(err instanceof PreconditionFailedError)) throw err;
    });
  }

  private versionKey(version: string, path: string): string {
    return `${this.root}/versions/${version}/${path}`;
  }

  private aliasKey(alias: string): string {
    if (!ALIAS_NAME.test(alias)) {
      throw new Error(`Invalid alias name ${JSON.stringify(alias)}: use champion, challenger or [a-z][a-z0-9-]*`);
    }
    return `${this.root}/aliases/${alias}.json`;
  }

  private parse<T>(schema: z.ZodType<T>, body: Buffer, key: string): T {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new Error(`${key} in ${this.store.uri} is not valid JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new Error(`${key} in ${this.store.uri} is malformed: ${z.prettifyError(parsed.error)}`);
    return parsed.data;
  }
}

function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

async function presentFiles(dir: string): Promise<ModelFile[]> {
  const present = await Promise.all(MODEL_FILES.map((path) => isFile(join(dir, path))));
  return MODEL_FILES.filter((_, i) => present[i]);
}

/** sha256 over the files' paths and sha256s, in upload order: the identity of a version's content. */
function contentId(files: readonly VersionFile[]): string {
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f.path}\0${f.sha256}\n`);
  return hash.digest('hex');
}

async function describeFile(dir: string, path: string): Promise<VersionFile> {
  const local = join(dir, path);
  return { path, size: (await stat(local)).size, sha256: await sha256OfFile(local) };
}

async function readLocalJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

let lastAuditMs = 0;

/** Strictly increasing within a process, so one writer's events sort in the order it made them. */
function auditTime(): string {
  lastAuditMs = Math.max(Date.now(), lastAuditMs + 1);
  return new Date(lastAuditMs).toISOString();
}

function ifNotFound<T>(fallback: T): (err: unknown) => T {
  return (err) => {
    if (err instanceof NotFoundError) return fallback;
    throw err;
  };
}
