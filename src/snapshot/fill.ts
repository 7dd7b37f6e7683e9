/**
 * What the watcher last measured of a snapshot's store filling up
 * (`STATE_DIR/watch/NAME.json`): usage, the fill rate and when. `status`
 * shows the rate and the time to full from it while it is fresh; one
 * sample of the kernel's status cannot give a rate.
 */
import { field, isCount, isString, jsonObject } from '../state/json-record.js';
import type { StateLock } from '../state/lock.js';
import { statePaths } from '../state/names.js';
import { recordFolder } from '../state/records.js';
import type { StateDir } from '../state/state-dir.js';
import { SnapstoreError } from '../errors.js';

export interface FillRecord {
  readonly version: 1;
  readonly name: string;
  /** when it was measured (ISO time) */
  readonly at: string;
  readonly usedBytes: number;
  readonly totalBytes: number;
  /** the store's fill rate, bytes per second (smoothed) */
  readonly bytesPerSecond: number;
}

/** A record older than this says nothing about now. */
export const FILL_RECORD_FRESH_MS = 60_000;

function decode(file: string, text: string): FillRecord {
  const fail = (what: string) => new SnapstoreError('RECORD_INVALID', `fill record ${file}: ${what}`, { hint: 'the watcher rewrites it; remove it if it stays damaged' });
  const raw = jsonObject(text, fail);
  if (raw['version'] !== 1) throw fail(`version ${String(raw['version'])} is not 1`);
  const rate = raw['bytesPerSecond'];
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) throw fail('field "bytesPerSecond" is not a rate');
  return {
    version: 1,
    name: field(raw, 'name', isString, 'a name', fail),
    at: field(raw, 'at', isString, 'a time', fail),
    usedBytes: field(raw, 'usedBytes', isCount, 'a byte count', fail),
    totalBytes: field(raw, 'totalBytes', isCount, 'a byte count', fail),
    bytesPerSecond: rate,
  };
}

const FILL = recordFolder('watch', statePaths.fillRecord, decode, (r: FillRecord) => `${JSON.stringify(r)}\n`);

export function writeFillRecord(lock: StateLock, r: FillRecord): void {
  FILL.write(lock, r.name, r);
}

/** The record if there is one and it is fresh (else undefined). */
export function freshFillRecord(stateDir: StateDir, name: string, now = Date.now()): FillRecord | undefined {
  const r = FILL.find(stateDir, name);
  return r && now - Date.parse(r.at) < FILL_RECORD_FRESH_MS ? r : undefined;
}
