// Shared by the tests of the repo's systemd units (systemd/, examples/).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';

/** `systemd-analyze verify` of `text` saved as `name` (beside `companions`, units it requires, by name): exit 0, and no line about the unit. */
export async function expectVerifiesClean(text: string, name: string, companions: Record<string, string> = {}): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-unit-'));
  try {
    const unit = path.join(dir, name);
    fs.writeFileSync(unit, text);
    for (const [n, t] of Object.entries(companions)) fs.writeFileSync(path.join(dir, n), t);
    const r = await execa('systemd-analyze', ['verify', unit], { reject: false, env: { SYSTEMD_LOG_LEVEL: 'warning' } });
    expect(r.stderr.split('\n').filter((l) => l.includes(name.replace(/@.*/, '')))).toEqual([]);
    expect(r.exitCode).toBe(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The values of `key=` lines, split at spaces. */
export const values = (text: string, key: string): string[] => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].flatMap((m) => (m[1] ?? '').split(' '));
