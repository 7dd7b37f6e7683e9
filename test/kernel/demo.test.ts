// The demo, run as a user runs it (`bash scripts/demo`, not on a terminal): the whole story
// on real filesystems and four boots of the real kernel. Its verdicts are its own checks
// (scripts/lib/narrate.sh `verdict`); this test holds it to them, and to the ones the
// story must contain, so a demo that stops early or drops a scene fails here.
import { execa } from 'execa';
import { expect, test } from 'vitest';

const MUST = [
  "the store's map, read again, is the one recorded",
  'the refused store left nothing behind',
  'the snapshot shows the release from before the update',
  'rollback: the files from before the update are back',
  'update mode: the partition itself is not written',
  'the watcher grew the 16 MiB store live; the snapshot stayed valid',
  'commit: the update stays',
  'the partition itself now holds system version 2',
  'the budget spent: the app data from before the update is back',
  'commit refuses once the budget is spent',
  ...[1, 2, 3, 4].map((n) => `phase ${n} played to its end`),
];

test('bash scripts/demo plays the whole story: every verdict as expected, every boot to its end', async () => {
  const r = await execa('bash', ['scripts/demo'], { reject: false, all: true, env: { NO_COLOR: '1' }, timeout: 900_000 });
  const out = r.all ?? '';
  const ok = out.split('\n').filter((l) => l.startsWith('verdict: ok: ')).map((l) => l.slice('verdict: ok: '.length));
  const lines = out.split('\n');
  const failed = lines.filter((l) => l.startsWith('verdict: FAILED: '));
  // Each failed verdict with the 30 lines before it: what the story showed there.
  const context = lines.flatMap((l, i) => (l.startsWith('verdict: FAILED: ') ? ['...', ...lines.slice(Math.max(0, i - 30), i + 1)] : []));
  expect(failed, `${context.join('\n')}\n... the end:\n${out.slice(-2000)}`).toEqual([]);
  for (const m of MUST) expect(ok, `${m}\n${out.slice(-4000)}`).toContain(m);
  expect(out).toMatch(new RegExp(`Done: ${ok.length} verdicts as expected, 0 not; 4 of 4 boots played to their end`));
  expect(r.exitCode, out.slice(-4000)).toBe(0);
}, 960_000);
