/** The errno code of a file-system error, if any. */
export function errorCode(err: unknown): unknown {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** For `.catch`: a missing file (or a file where a directory was expected) becomes `fallback`. */
export function ifMissing<T>(fallback: T): (err: unknown) => T {
  return (err) => {
    const code = errorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return fallback;
    throw err;
  };
}
