/**
 * The store read and written through its map on the raw block device, never
 * through the file: unwritten extents read as zeros through the filesystem,
 * and the page cache must not hide what is on the disk (O_DIRECT).
 */
import * as fs from 'node:fs';
import { FileIo } from '../blockio/file-io.js';
import { MappedIo } from '../blockio/mapped-io.js';
import type { StoreSegment } from '../fiemap/align.js';
import type { DeviceNumber } from '../linux/device-number.js';
import { fromDevT } from '../linux/device-number.js';
import { resolveDevice } from './identity.js';
import type { StoreManifest } from './manifest.js';

export interface RawStore {
  /** the device the store lives on */
  readonly deviceNumber: DeviceNumber;
  /** the whole block device, O_DIRECT */
  readonly device: FileIo;
  /** the store: offset 0 is the COW device's first byte */
  readonly store: MappedIo;
  close(): void;
}

export function openRawStore(node: string, segments: readonly StoreSegment[], writable: boolean, name = `store on ${node}`): RawStore {
  const device = FileIo.open(node, { writable, direct: true });
  try {
    const store = new MappedIo(
      device,
      segments.map((s) => ({ start: s.storeOffset, offset: s.physical, length: s.length })),
      name,
    );
    return { deviceNumber: fromDevT(fs.statSync(node).rdev), device, store, close: () => store.close() };
  } catch (err) {
    device.close();
    throw err;
  }
}

/** A store of ours, raw, on the device its manifest names (found by its stable identity). */
export async function openManifestStore(m: StoreManifest, writable: boolean): Promise<RawStore> {
  const device = await resolveDevice(m.device);
  return openRawStore(device.node, m.segments, writable, `store "${m.name}" on ${device.node}`);
}
