// Types of dist.js (plain JavaScript so that launchers run it before any TypeScript loader).

export interface DistManifest {
  builtAt: string;
  /** Entry name → bundle file name inside dist/. */
  entries: Record<string, string>;
  /** Source file (relative to the repository) → "size:mtimeMs" when built. */
  inputs: Record<string, string>;
}

export const repoRoot: string;
export const distDir: string;
/** Why dist/ cannot be used (a sentence), or undefined when it is current. */
export function staleReason(): string | undefined;
/** Bundles every entry into dist/ and writes the manifest. */
export function build(): Promise<DistManifest>;
/** The manifest of a current build, building first when needed; `say` hears one line when it builds. */
export function ensureBuilt(say?: (msg: string) => void): Promise<DistManifest>;
/** Absolute path of an entry's bundle. */
export function entryFile(manifest: DistManifest, name: string): string;
/** Ensures a current build, then imports the entry's bundle (exits 1 when the build fails). */
export function runCompiled(name: string, say?: (msg: string) => void): Promise<void>;
