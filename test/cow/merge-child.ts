/**
 * A merge in its own process, for the kill -9 test: `node merge-child.js
 * ORIGIN STORE BATCH_BYTES [paced]`. Prints "progress N" after each origin
 * write; when paced, waits for one byte on stdin before going on, so the
 * parent can kill it at an exact point of its run.
 */
import * as fs from 'node:fs';
import { bytes } from '../../src/units/units.js';
import { FileIo } from '../../src/blockio/file-io.js';
import { mergeOffline } from '../../src/cow/merge.js';

const [originPath = '', storePath = '', batch = '', paced] = process.argv.slice(2);
const origin = FileIo.open(originPath, { writable: true });
const store = FileIo.open(storePath, { writable: true });
const ack = Buffer.alloc(1);
let n = 0;
const summary = mergeOffline(origin, store, {
  batchBytes: bytes(Number(batch)),
  onProgress: () => {
    fs.writeSync(1, `progress ${++n}\n`);
    if (paced) fs.readSync(0, ack, 0, 1, null);
  },
});
fs.writeSync(1, `done ${JSON.stringify(summary)}\n`);
