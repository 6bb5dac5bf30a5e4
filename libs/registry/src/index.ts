export { createRegistry, ModelRegistry } from './registry.ts';
export type { AuditEntry, RegisterOptions, SetAliasOptions, VersionRef } from './registry.ts';
export {
  AliasConflictError,
  CorruptFileError,
  MissingFilesError,
  NoChampionError,
  NotFineTunableError,
  UnknownAliasError,
  UnknownFileError,
  UnknownVersionError,
} from './errors.ts';
export { hasTorchWeights, MODEL_FILES, REQUIRED_MODEL_FILES, TORCH_WEIGHT_FILES } from './schemas.ts';
export type { AliasRecord, AuditEvent, MetricsSummary, ModelFile, VersionFile, VersionInfo } from './schemas.ts';
