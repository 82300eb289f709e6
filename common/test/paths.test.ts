import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { confinePath, datasetPath, LabError, loadConfig } from '../src/index.ts';

describe('data roots', () => {
  const root = mkdtempSync(join(tmpdir(), 'lab-confine-'));
  mkdirSync(join(root, 'a'));
  symlinkSync(tmpdir(), join(root, 'a', 'out'));

  it('accepts paths under a root, including ones still to be created, and refuses a sibling with the same prefix', () => {
    expect(confinePath(join(root, 'a', 'new', 'file.txt'), 'path', [join(root, 'a')])).toBe(
      join(root, 'a', 'new', 'file.txt'),
    );
    const err = (() => {
      try {
        confinePath(`${join(root, 'a')}-evil/x`, 'path', [join(root, 'a')]);
      } catch (e) {
        return e as LabError;
      }
    })();
    expect(err).toBeInstanceOf(LabError);
    expect(err?.code).toBe('PERMISSION_DENIED');
    expect(() => confinePath(join(root, 'a', 'out', 'x'), 'p', [join(root, 'a')])).toThrow(
      /p: .* outside the lab's data roots/,
    );
    expect(confinePath('/etc/passwd', 'path', undefined)).toBe('/etc/passwd');
  });

  it('defaults to LAB_HOME, the working directory and the reference datasets; LAB_DATA_ROOTS replaces them', () => {
    const home = join(root, 'home');
    expect(loadConfig({ LAB_HOME: home }).dataRoots).toEqual([home, process.cwd(), datasetPath()]);
    expect(loadConfig({ LAB_HOME: home, LAB_DATA_ROOTS: `${root}/x, /srv/data` }).dataRoots).toEqual([
      `${root}/x`,
      '/srv/data',
    ]);
  });
});
