// Part 3 of bench/lifecycle (guest side; host: lifecycle.host.ts): store bytes used (the
// usage `snapstore status` reports) per byte an update wrote, for an update that overwrites
// existing files in place, one that only adds new files (writes into free space are writes to
// the origin too), and one that replaces files by a new copy renamed over the old (as dpkg
// does); for chunk sizes 4K, 16K and 64K. Usage is read twice: after `sync` with the
// filesystem still mounted, and after it is unmounted (ext4 writes its metadata home from the
// journal later; unmounting writes everything).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { requireGuest, run } from '../../test/vm/guest.js';
import { commitSnapshot } from '../../src/snapshot/commit.js';
import { createSnapshot } from '../../src/snapshot/create.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { chunkSize, parseSize } from '../../src/units/units.js';
import { ext4, metaDir, MiB, passthrough, ROOT, round, savePart, sh, snapUsage, type Part } from './guest-common.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';

const MNT = `${ROOT}/use`;
const CHUNKS = ['4K', '16K', '64K'] as const;
/** The files of the base tree, and of each update: [count, bytes each]; 856 files, 14.5 MiB. */
const MIX: [number, number][] = [
  [8, 1 << 20],
  [16, 256 << 10],
  [64, 16 << 10],
  [256, 4 << 10],
  [512, 1 << 10],
];
const FILES = MIX.flatMap(([n, size]) => Array.from({ length: n }, (_, i) => ({ rel: `s${size}/f${i}`, size })));
const TOTAL = FILES.reduce((a, f) => a + f.size, 0);

const part: Part = { title: '3. store bytes used per byte the update wrote', tables: [], notes: [] };
afterAll(() => savePart('usage', part));

type Kind = 'overwrite' | 'add' | 'replace';
const UPDATES: Record<Kind, { label: string; apply: (round: number) => void }> = {
  overwrite: {
    label: 'overwrites existing files in place',
    apply: () => {
      for (const f of FILES) {
        const fd = fs.openSync(path.join(MNT, 'base', f.rel), 'r+');
        fs.writeSync(fd, randomBytes(f.size), 0, f.size, 0);
        fs.closeSync(fd);
      }
    },
  },
  add: {
    label: 'only adds new files',
    apply: (r) => {
      for (const f of FILES) {
        const p = path.join(MNT, `new-${r}`, f.rel);
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, randomBytes(f.size));
      }
    },
  },
  replace: {
    label: 'replaces files (new copy renamed over the old, as dpkg)',
    apply: () => {
      for (const f of FILES) {
        const p = path.join(MNT, 'base', f.rel);
        fs.writeFileSync(`${p}.new`, randomBytes(f.size));
        fs.renameSync(`${p}.new`, p);
      }
    },
  },
};

test('store usage per byte written: overwrite, add, replace; chunk 4K/16K/64K', async () => {
  const state = `${metaDir('use')}/state`;
  const opts = { stateDir: state, log: () => {} };
  const origin = passthrough('data-use', 'use');
  ext4(origin, MNT);
  for (const f of FILES) {
    const p = path.join(MNT, 'base', f.rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, randomBytes(f.size));
  }
  sh('sync');
  const journal = run('dumpe2fs', ['-h', origin]).match(/journal size:\s+(\S+)/i)?.[1] ?? '?';

  const rows: Record<string, unknown>[] = [];
  let n = 0;
  for (const c of CHUNKS) {
    for (const kind of ['overwrite', 'add', 'replace'] as const) {
      n++;
      const name = `use-${c.toLowerCase()}-${kind}`;
      const r = await createSnapshot({ ...opts, name, origin, store: `${MNT}/.snapstore/${name}.store`, size: parseSize('96M'), chunk: chunkSize(parseSize(c)), mode: 'checkpoint' });
      expect(r.manifest?.state).toBe('active');
      const used0 = Number(snapshotStatus({ stateDir: state, name })[0]!.usage!.used);
      const u0 = snapUsage(`snapstore-${name}-snap`);
      UPDATES[kind].apply(n);
      sh('sync');
      const used1 = Number(snapshotStatus({ stateDir: state, name })[0]!.usage!.used);
      run('umount', [MNT]);
      const s = snapshotStatus({ stateDir: state, name })[0]!;
      expect(s.health).toBe('valid');
      const used2 = Number(s.usage!.used);
      const u = snapUsage(`snapstore-${name}-snap`);
      run('mount', [origin, MNT]);
      expect((await commitSnapshot({ ...opts, name })).outcome).toBe('committed');
      if (kind === 'add') fs.rmSync(path.join(MNT, `new-${n}`), { recursive: true });
      sh('sync');
      rows.push({
        chunk: c,
        update: UPDATES[kind].label,
        'written MiB': round(TOTAL / MiB),
        'used after sync MiB': round((used1 - used0) / MiB),
        'used after umount MiB': round((used2 - used0) / MiB),
        'per byte written (after umount)': round((used2 - used0) / TOTAL),
        'of which data chunks MiB': round(((u.allocated - u.metadata - (u0.allocated - u0.metadata)) * 512) / MiB),
        'of which exception table MiB': round(((u.metadata - u0.metadata) * 512) / MiB),
      });
      console.log(rows.at(-1));
    }
  }
  part.tables.push({ caption: `${FILES.length} files, ${round(TOTAL / MiB)} MiB (${MIX.map(([k, s]) => `${k} x ${s >= MiB ? `${s / MiB} MiB` : `${s >> 10} KiB`}`).join(', ')}), written buffered, then sync; ext4 on a 512 MiB disk, journal ${journal}`, rows });
  part.notes.push('usage = what `snapstore status` reports (the kernel\'s allocated sectors: data chunks plus exception-table chunks), minus what a fresh checkpoint shows; read after `sync` while mounted, then after `umount` (metadata written home from the journal)');
  run('umount', [MNT]);
  run('dmsetup', ['remove', 'data-use']);
}, 1_200_000);
