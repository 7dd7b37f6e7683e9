import { deleteStore } from '../../store/delete.js';
import type { CommandContext } from '../context.js';

export interface StoreDeleteOptions {
  name: string;
  stateDir: string;
}

export async function run(options: StoreDeleteOptions, ctx: CommandContext): Promise<void> {
  const r = await deleteStore({ stateDir: options.stateDir, name: options.name });
  ctx.out(`deleted store "${r.name}"${r.fileDeleted ? `: ${r.file} removed` : ` (its file ${r.file} was already gone from its filesystem)`}, manifest removed`);
  ctx.result('store-delete', r);
}
