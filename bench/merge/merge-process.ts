/** Our merge as a whole process, for whole-process timing: `node merge-process.js ORIGIN STORE`. */
import { FileIo } from '../../src/blockio/file-io.js';
import { mergeOffline } from '../../src/cow/merge.js';

const [originPath = '', storePath = ''] = process.argv.slice(2);
const origin = FileIo.open(originPath, { writable: true });
const store = FileIo.open(storePath, { writable: true });
const s = mergeOffline(origin, store);
process.stdout.write(`${s.chunks}\n`);
