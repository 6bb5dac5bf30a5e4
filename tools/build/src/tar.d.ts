/** The part of tar@6 (it ships no types) that layers.ts uses. */
declare module 'tar' {
  export interface CreateOptions {
    cwd?: string;
    /** Path prepended to every entry (a layer's destination folder). */
    prefix?: string;
    /** Leave out uid/gid/uname/gname, atime/ctime: the archive depends on content, not on who built it. */
    portable?: boolean;
  }
  /** An uncompressed tar stream of `files` (relative to `cwd`). */
  export function create(options: CreateOptions, files: readonly string[]): AsyncIterable<Buffer>;
  export function list(options: { file: string; onentry: (entry: { path: string; size: number; type: string }) => void }): Promise<void>;
}
