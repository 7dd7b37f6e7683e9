import { listStores } from '../../store/list.js';
import { formatBytes, plural } from '../../units/units.js';
import type { CommandContext } from '../context.js';

export interface StoreListOptions {
  stateDir: string;
}

export async function run(options: StoreListOptions, ctx: CommandContext): Promise<void> {
  const stores = listStores({ stateDir: options.stateDir });
  ctx.result('store-list', {
    stores: stores.map((s) => ({
      name: s.name,
      state: s.state,
      file: s.manifest?.file ?? null,
      usableBytes: s.manifest?.usableBytes ?? null,
      segments: s.manifest?.segments.length ?? null,
      users: s.users,
      ...(s.problem ? { problem: s.problem } : {}),
    })),
  });
  if (stores.length === 0) ctx.out(`no stores in ${options.stateDir}`);
  for (const s of stores) {
    const m = s.manifest;
    const what = m ? `${m.file}, ${formatBytes(m.usableBytes)} in ${plural(m.segments.length, 'segment')}${s.users.length ? `, in use by ${s.users.join(', ')}` : ''}` : '';
    if (s.state === 'ok') ctx.out(`${s.name}: ${what}`);
    else ctx.out(`${s.name}: ${s.state.replace('-', ' ').toUpperCase()}${what ? ` (${what})` : ''}: ${s.problem}`);
  }
}
