import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeDirs } from '../src/fs-util.ts';
import { tempDir } from './helpers.ts';

describe('makeDirs', () => {
  it('creates missing parents, and is fine when the directory exists', async () => {
    const dir = join(tempDir(), 'a', 'b', 'c');
    await makeDirs(dir);
    await makeDirs(dir);
    assert.ok(statSync(dir).isDirectory());
  });

  it('fails at once under /proc, where a recursive mkdir never returns', async () => {
    await assert.rejects(makeDirs('/proc/autoctrl-x/y'), { code: 'ENOENT' });
  });
});
