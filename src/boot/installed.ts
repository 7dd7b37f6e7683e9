/**
 * What of the boot integration is installed under a root, read from the files
 * alone (nothing is run): for each kind, which of its files are there, and for
 * systemd whether the unit is enabled (a link in the `.wants` folder of a
 * target its [Install] section names, which is what `systemctl enable` makes)
 * or masked (a link to /dev/null).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BOOT_KINDS, KINDS, type BootKind } from './kinds.js';

export interface InstalledKind {
  readonly kind: BootKind;
  /** the kind's files that are there, as paths under the root */
  readonly present: readonly string[];
  readonly missing: readonly string[];
  /** systemd only: the unit's state */
  readonly unit?: 'enabled' | 'disabled' | 'masked';
}

export function bootInstalled(root = '/'): InstalledKind[] {
  return BOOT_KINDS.map((kind) => {
    const targets = KINDS[kind].files.map((f) => path.join(root, f.target));
    const present = targets.filter(there);
    const missing = targets.filter((t) => !present.includes(t));
    if (kind !== 'systemd' || present.length === 0) return { kind, present, missing };
    return { kind, present, missing, unit: unitState(root, present[0]!) };
  });
}

/** A file or link is there (a link itself: under another root its absolute target points into the image, not here). */
const there = (p: string): boolean => fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined;

/** A unit file masked: a link to /dev/null (`systemctl mask`). */
function isMasked(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink() && fs.readlinkSync(file) === '/dev/null';
  } catch {
    return false;
  }
}

function unitState(root: string, unitFile: string): 'enabled' | 'disabled' | 'masked' {
  if (isMasked(unitFile)) return 'masked';
  const unit = path.basename(unitFile);
  const wants = wantedBy(fs.readFileSync(unitFile, 'utf8')).map((t) => path.join(root, 'etc/systemd/system', `${t}.wants`, unit));
  return wants.some(there) ? 'enabled' : 'disabled';
}

/** The targets a unit's [Install] section names in WantedBy= (systemd.unit(5)). */
function wantedBy(unitText: string): string[] {
  let section = '';
  const out: string[] = [];
  for (const raw of unitText.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) section = line;
    else if (section === '[Install]' && line.startsWith('WantedBy=')) out.push(...line.slice('WantedBy='.length).split(/\s+/).filter(Boolean));
  }
  return out;
}
