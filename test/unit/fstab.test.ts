// fstab/crypttab as text (src/linux/fstab.ts): the one field rewritten, every other byte kept, the rewrite undone exactly.
import { describe, expect, it } from 'vitest';
import { restoreSource, rewriteSource, sourceNames, tableEntries } from '../../src/linux/fstab.js';

const FSTAB = [
  '# /etc/fstab: static file system information.',
  'UUID=0a1b-root  /      ext4  errors=remount-ro  0  1',
  '',
  'UUID="5e1f-Data"\t/srv/my\\040data\txfs\tdefaults,nofail\t0\t2',
  '/dev/sdb1 none swap sw 0 0',
  '',
].join('\n');
const names = { fsUuid: '5E1F-data', fsLabel: 'data', partUuid: '7a11-03', partLabel: 'DATA' };
const isDevice = (p: string) => p === '/dev/sda3' || p === '/dev/disk/by-id/ata-x-part3';

describe('tableEntries', () => {
  it('skips comments and blank lines, decodes \\040, and finds the device field of each kind', () => {
    const e = tableEntries(FSTAB, 'fstab');
    expect(e.map((x) => [x.line, x.source, x.fields[1]])).toEqual([
      [1, 'UUID=0a1b-root', '/'],
      [3, 'UUID="5e1f-Data"', '/srv/my data'],
      [4, '/dev/sdb1', 'none'],
    ]);
    expect(tableEntries('data-crypt  UUID=c0de  none  luks,discard\n', 'crypttab')[0]!.source).toBe('UUID=c0de');
  });
});

describe('sourceNames', () => {
  it.each([
    ['UUID=5e1f-data', true],
    ['UUID="5e1f-DATA"', true],
    ['LABEL=data', true],
    ['LABEL=Data', false],
    ['PARTUUID=7A11-03', true],
    ['PARTLABEL=DATA', true],
    ['UUID=0a1b-root', false],
    ['/dev/sda3', true],
    ['/dev/disk/by-id/ata-x-part3', true],
    ['/dev/sdb1', false],
    ['tmpfs', false],
  ])('%s: %s', (source, want) => expect(sourceNames(source, names, isDevice)).toBe(want));
});

describe('rewriteSource and restoreSource', () => {
  const names5e = (s: string) => sourceNames(s, names, isDevice);

  it('replaces the device field only, keeps the line as it was in a tagged comment above, and is undone byte for byte', () => {
    const r = rewriteSource(FSTAB, 'fstab', names5e, '/dev/mapper/snapstore-data', 'snapstore enroll "data"');
    expect(r.outcome).toBe('rewritten');
    if (r.outcome !== 'rewritten') return;
    expect(r.before).toBe('UUID="5e1f-Data"\t/srv/my\\040data\txfs\tdefaults,nofail\t0\t2');
    expect(r.after).toBe('/dev/mapper/snapstore-data\t/srv/my\\040data\txfs\tdefaults,nofail\t0\t2');
    const lines = r.text.split('\n');
    expect(lines[3]).toBe('# snapstore enroll "data", before: UUID="5e1f-Data"\t/srv/my\\040data\txfs\tdefaults,nofail\t0\t2');
    expect(lines[4]).toBe(r.after);
    expect(lines.filter((_, i) => i !== 3 && i !== 4)).toEqual(FSTAB.split('\n').filter((_, i) => i !== 3));
    // A rerun finds it done; the restore gives the file back exactly.
    expect(rewriteSource(r.text, 'fstab', names5e, '/dev/mapper/snapstore-data', 'snapstore enroll "data"').outcome).toBe('already');
    expect(restoreSource(r.text, 'snapstore enroll "other"')).toEqual({ outcome: 'none' });
    const back = restoreSource(r.text, 'snapstore enroll "data"');
    expect(back).toMatchObject({ outcome: 'restored', line: r.before });
    if (back.outcome === 'restored') expect(back.text).toBe(FSTAB);
  });

  it('the device field of crypttab is the second; indentation is kept', () => {
    const r = rewriteSource('  data-crypt   /dev/sda3   none   luks\n', 'crypttab', names5e, '/dev/mapper/snapstore-data', 'snapstore enroll "data"');
    expect(r).toMatchObject({ outcome: 'rewritten', after: '  data-crypt   /dev/mapper/snapstore-data   none   luks' });
  });

  it('no entry, or several, is not for it to choose', () => {
    expect(rewriteSource('UUID=0a1b-root / ext4 defaults 0 1\n', 'fstab', names5e, '/dev/mapper/snapstore-data', 't').outcome).toBe('none');
    const two = rewriteSource('LABEL=data /a ext4 defaults 0 2\n/dev/sda3 /b ext4 defaults 0 2\n', 'fstab', names5e, '/dev/mapper/snapstore-data', 't');
    expect(two).toMatchObject({ outcome: 'several', lines: ['LABEL=data /a ext4 defaults 0 2', '/dev/sda3 /b ext4 defaults 0 2'] });
  });

  it('a path with a space is written escaped', () => {
    const r = rewriteSource('/dev/sda3 /d ext4 defaults 0 2\n', 'fstab', names5e, '/dev/mapper/odd name', 't');
    expect(r).toMatchObject({ outcome: 'rewritten', after: '/dev/mapper/odd\\040name /d ext4 defaults 0 2' });
  });
});
