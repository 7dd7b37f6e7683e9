/**
 * A progress bar on stderr when a person watches (a TTY), nothing otherwise.
 * cli-progress draws it: it handles terminal width, redraw throttling and
 * ETA, which is more than is worth writing again.
 */
import { createRequire } from 'node:module';
import type { CommandContext } from './context.js';
import { formatBytes } from '../units/units.js';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

export function byteProgress(ctx: CommandContext, label: string): Progress {
  if (!ctx.isTTY || ctx.json) return { update() {}, stop() {} };
  const require = createRequire(import.meta.url);
  const { SingleBar, Presets } = require('cli-progress') as typeof import('cli-progress');
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {percentage}% {doneText}/{totalText} eta {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      const payload = { doneText: formatBytes(done), totalText: formatBytes(total) };
      if (!started) {
        bar.start(total, done, payload);
        started = true;
      } else bar.update(done, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
