/**
 * Status text of snapshot and snapshot-merge targets, parsed by a pure
 * function. The text comes from dm-snap.c snapshot_status(STATUSTYPE_INFO):
 * "Invalid" (the store was full or failed: the snapshot is lost), "Merge
 * failed", "Overflow" (a PO store is full; the snapshot stays readable),
 * "<allocated>/<total> <metadata>" in sectors, or "Unknown" (a store type
 * without a usage function).
 */
import { SnapstoreError } from '../errors.js';
import { sectors, type Sectors } from '../units/units.js';

/** A status line that is not one a snapshot target prints. */
export class StatusError extends SnapstoreError {
  override name = 'StatusError';
  constructor(message: string) {
    super('DM_STATUS', message, { hint: 'the device is not a snapshot, or the kernel prints a status this snapstore does not know' });
  }
}

export type SnapshotStatus =
  | {
      readonly state: 'active';
      /** Sectors of the COW device in use, exceptions and metadata. */
      readonly allocated: Sectors;
      /** The COW device's size. */
      readonly total: Sectors;
      /** Sectors of metadata (header and exception areas) within `allocated`. */
      readonly metadata: Sectors;
    }
  | { readonly state: 'invalid' }
  | { readonly state: 'merge-failed' }
  | { readonly state: 'overflow' }
  | { readonly state: 'unknown' };

const USAGE = /^(\d+)\/(\d+) (\d+)$/;

export function parseSnapshotStatus(text: string): SnapshotStatus {
  const t = text.trim();
  switch (t) {
    case 'Invalid':
      return { state: 'invalid' };
    case 'Merge failed':
      return { state: 'merge-failed' };
    case 'Overflow':
      return { state: 'overflow' };
    case 'Unknown':
      return { state: 'unknown' };
  }
  const m = USAGE.exec(t);
  if (!m) {
    throw new StatusError(
      `snapshot status "${text}" is not one of "<allocated>/<total> <metadata>", Invalid, Merge failed, Overflow or Unknown`,
    );
  }
  const field = (s: string | undefined, name: string): Sectors => {
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw new StatusError(`snapshot status "${text}": ${name} ${s} is too large`);
    return sectors(n);
  };
  const allocated = field(m[1], 'allocated');
  const total = field(m[2], 'total');
  const metadata = field(m[3], 'metadata');
  // The metadata sectors are part of the allocation (dm-snap-persistent.c
  // persistent_usage): anything else is not a snapshot's status.
  if (metadata > allocated) {
    throw new StatusError(`snapshot status "${text}": metadata ${metadata} exceeds allocated ${allocated}`);
  }
  return { state: 'active', allocated, total, metadata };
}

/**
 * A snapshot-merge has merged every exception when only metadata is left
 * allocated (the kernel's own test, and lvm2's).
 */
export function mergeComplete(status: SnapshotStatus): boolean {
  return status.state === 'active' && status.allocated === status.metadata;
}
