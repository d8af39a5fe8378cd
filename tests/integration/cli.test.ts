import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

describe('skypatrol CLI', () => {
  for (const cmd of [
    [],
    ['db', 'migrate'],
    ['serve'],
    ['worker'],
    ['detect'],
    ['detectors', 'train'],
    ['demo'],
  ]) {
    it(`skypatrol ${cmd.join(' ')} --help describes itself`, async () => {
      const r = await runCli([...cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: skypatrol/);
    });
  }

  it('rejects a bad option value with a clear message', async () => {
    const r = await runCli(['serve', '--port', '99999']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/port number/);
  });

  it('rejects an invalid environment before doing anything', async () => {
    const r = await runCli(['db', 'migrate'], { DATABASE_URL: 'mysql://localhost/x' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      'skypatrol: CONFIG_INVALID: invalid configuration: DATABASE_URL: must be a postgres:// URL',
    );
  });
});
