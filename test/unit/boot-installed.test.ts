// What of the boot integration is installed under a root, read from the files:
// none, each kind whole or in part, the systemd unit enabled (the link
// `systemctl enable` makes for its WantedBy= target), disabled or masked.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bootInstalled } from '../../src/boot/installed.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-boot-installed-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const UNIT = 'etc/systemd/system/snapstore-activate.service';
let n = 0;
function root(files: Record<string, string>, links: Record<string, string> = {}): string {
  const r = path.join(scratch, `root-${n++}`);
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(r, f)), { recursive: true });
    fs.writeFileSync(path.join(r, f), text);
  }
  for (const [f, to] of Object.entries(links)) {
    fs.mkdirSync(path.dirname(path.join(r, f)), { recursive: true });
    fs.symlinkSync(to, path.join(r, f));
  }
  fs.mkdirSync(r, { recursive: true });
  return r;
}
const unitText = fs.readFileSync('systemd/snapstore-activate.service', 'utf8');
const byKind = (r: string) => Object.fromEntries(bootInstalled(r).map((k) => [k.kind, k]));

describe('bootInstalled', () => {
  it('nothing installed: every file of every kind missing, no unit state', () => {
    const k = byKind(root({}));
    expect(Object.keys(k)).toEqual(['systemd', 'initramfs-tools', 'dracut']);
    for (const kind of Object.values(k)) {
      expect(kind.present).toEqual([]);
      expect(kind.missing.length).toBeGreaterThan(0);
      expect(kind.unit).toBeUndefined();
    }
  });

  it('the unit installed and enabled: a link in the .wants folder of the target its [Install] names', () => {
    const r = root({ [UNIT]: unitText }, { 'etc/systemd/system/local-fs-pre.target.wants/snapstore-activate.service': `/${UNIT}` });
    expect(byKind(r)['systemd']).toEqual({ kind: 'systemd', present: [path.join(r, UNIT)], missing: [], unit: 'enabled' });
  });

  it('the unit installed, not enabled; or masked (a link to /dev/null)', () => {
    expect(byKind(root({ [UNIT]: unitText }))['systemd']?.unit).toBe('disabled');
    // a link in the .wants folder of a target the unit does not name does not enable it
    expect(byKind(root({ [UNIT]: unitText.replace('WantedBy=local-fs-pre.target', 'WantedBy=sysinit.target') }, { 'etc/systemd/system/local-fs-pre.target.wants/snapstore-activate.service': `/${UNIT}` }))['systemd']?.unit).toBe('disabled');
    expect(byKind(root({}, { [UNIT]: '/dev/null' }))['systemd']).toMatchObject({ present: [expect.stringContaining(UNIT)], unit: 'masked' });
  });

  it('an initramfs kind whole, and one in part', () => {
    const k = byKind(root({ 'etc/initramfs-tools/hooks/snapstore': '#!/bin/sh\n', 'etc/initramfs-tools/scripts/local-bottom/snapstore': '#!/bin/sh\n', 'usr/lib/dracut/modules.d/90snapstore/module-setup.sh': '#!/bin/bash\n' }));
    expect(k['initramfs-tools']?.missing).toEqual([]);
    expect(k['initramfs-tools']?.present).toHaveLength(2);
    expect(k['dracut']?.present).toHaveLength(1);
    expect(k['dracut']?.missing).toEqual([expect.stringMatching(/90snapstore\/snapstore-pre-pivot\.sh$/)]);
  });
});
