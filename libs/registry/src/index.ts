export { createRegistry, ModelRegistry } from './registry.ts';
export type { AuditEntry, RegisterOptions, SetAliasOptions, VersionRef } from './registry.ts';
export {
  AliasConflictError,
  MissingFilesError,
  NoChampionError,
  UnknownAliasError,
  UnknownFileError,
  UnknownVersionError,
} from './errors.ts';
export { MODEL_FILES, OPTIONAL_MODEL_FILES } from './schemas.ts';
export type { AliasRecord, AuditEvent, MetricsSummary, VersionFile, VersionInfo } from './schemas.ts';
