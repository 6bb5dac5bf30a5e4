export class UnknownVersionError extends Error {
  readonly code = 'UNKNOWN_VERSION';
  constructor(
    readonly model: string,
    readonly version: string,
    readonly known: string[],
  ) {
    super(`Unknown version "${version}" of model "${model}"; known versions: ${known.join(', ') || 'none'}`);
    this.name = 'UnknownVersionError';
  }
}

export class UnknownAliasError extends Error {
  readonly code = 'UNKNOWN_ALIAS';
  constructor(
    readonly model: string,
    readonly alias: string,
    readonly known: string[],
  ) {
    super(`Unknown alias "${alias}" of model "${model}"; known aliases: ${known.join(', ') || 'none'}`);
    this.name = 'UnknownAliasError';
  }
}

export class AliasConflictError extends Error {
  readonly code = 'ALIAS_CONFLICT';
  constructor(
    readonly model: string,
    readonly alias: string,
    readonly expected: string | null,
    readonly actual: string | null,
  ) {
    const describe = (v: string | null) => (v === null ? 'unset' : v);
    super(
      `Alias "${alias}" of model "${model}" is ${describe(actual)}, not ${describe(expected)} as expected: ` +
        'it moved meanwhile; re-read it and decide again',
    );
    this.name = 'AliasConflictError';
  }
}

/** A version has no file at that path (e.g. reference.json of a version trained before references existed). */
export class UnknownFileError extends Error {
  readonly code = 'UNKNOWN_FILE';
  constructor(
    readonly model: string,
    readonly version: string,
    readonly path: string,
    readonly known: string[],
  ) {
    super(`Version ${version} of model "${model}" has no file "${path}"; its files: ${known.join(', ')}`);
    this.name = 'UnknownFileError';
  }
}

/** The model has no champion alias yet (nothing was trained, or it was never set); `need` says what it was wanted for. */
export class NoChampionError extends Error {
  readonly code = 'NO_CHAMPION';
  constructor(
    readonly model: string,
    need: string,
  ) {
    super(`Model "${model}" has no champion yet: ${need}`);
    this.name = 'NoChampionError';
  }
}

/** A file of a version whose bytes are not those its version.json names: the copy is damaged, not the store unreachable. */
export class CorruptFileError extends Error {
  readonly code = 'CORRUPT_FILE';
  constructor(
    readonly model: string,
    readonly version: string,
    readonly path: string,
  ) {
    super(`${path} of ${model} ${version} does not match the sha256 in its version.json`);
    this.name = 'CorruptFileError';
  }
}

export class MissingFilesError extends Error {
  readonly code = 'MISSING_FILES';
  constructor(
    readonly dir: string,
    readonly missing: string[],
  ) {
    super(`Cannot register ${dir}: missing ${missing.join(', ')}`);
    this.name = 'MissingFilesError';
  }
}

/** The training core fine-tunes torch weights; a version imported from ONNX alone has none. */
export class NotFineTunableError extends Error {
  readonly code = 'NOT_FINE_TUNABLE';
  constructor(
    readonly model: string,
    readonly version: string,
  ) {
    super(
      `Cannot fine-tune ${model} ${version}: it has no torch weights (pytorch_model.bin or model.safetensors), ` +
        'it was imported from ONNX (mlops registry import), and an ONNX model cannot be trained. ' +
        'Make a trained version champion, or import the folder again with its torch weights.',
    );
    this.name = 'NotFineTunableError';
  }
}
