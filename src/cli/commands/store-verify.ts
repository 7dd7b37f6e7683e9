import { SnapstoreError } from '../../errors.js';
import { verifyStore } from '../../store/verify.js';
import { plural } from '../../units/units.js';
import type { CommandContext } from '../context.js';

export interface StoreVerifyOptions {
  name: string;
  stateDir: string;
}

export async function run(options: StoreVerifyOptions, ctx: CommandContext): Promise<void> {
  const r = await verifyStore({ stateDir: options.stateDir, name: options.name });
  if (!r.ok) {
    throw new SnapstoreError('STORE_STALE', `store "${r.name}" does not match its manifest:\n  ${r.problems.join('\n  ')}`, {
      hint: 'do not attach it; delete and recreate the store',
    });
  }
  ctx.result('store-verify', { name: r.name, file: r.file, ok: r.ok, segments: r.manifest.segments.length });
  ctx.out(`store "${r.name}": ${r.file} matches its manifest (${plural(r.manifest.segments.length, 'segment')})`);
}
