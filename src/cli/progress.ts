/**
 * Progress bars on a terminal. cli-progress draws them: it handles terminal
 * width, redraw throttling and ETA, which is more than is worth writing again.
 * It is loaded only when a bar is shown.
 */
import { createRequire } from 'node:module';
import { formatBytes, sectorsToBytes, type Sectors } from '../units/units.js';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

export function progressBar(stream: NodeJS.WriteStream, label: string, show: (n: number) => string): Progress {
  const require = createRequire(import.meta.url);
  const { SingleBar, Presets } = require('cli-progress') as typeof import('cli-progress');
  const bar = new SingleBar(
    { format: `${label} [{bar}] {percentage}% {doneText}/{totalText} eta {eta_formatted}`, stream, hideCursor: true },
    Presets.legacy,
  );
  let started = false;
  return {
    update(done, total) {
      const payload = { doneText: show(done), totalText: show(total) };
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

/**
 * Runs `fn` with a "merging" bar (512-byte sectors, as the kernel's merge
 * counts) fed by both merges' progress: the kernel's and our offline one's.
 */
export async function withMergeBar<T>(
  progress: (label: string, show: (n: number) => string) => Progress,
  fn: (feed: {
    onProgress: (p: { initial: number; remaining: number }) => void;
    onOfflineProgress: (p: { doneChunks: number; totalChunks: number; doneBytes: number }) => void;
  }) => Promise<T>,
): Promise<T> {
  const bar = progress('merging', (n) => formatBytes(sectorsToBytes(n as Sectors)));
  try {
    return await fn({
      onProgress: (p) => bar.update(p.initial - p.remaining, p.initial),
      onOfflineProgress: (p) => {
        const chunk = p.doneChunks > 0 ? p.doneBytes / p.doneChunks : 0;
        bar.update(p.doneBytes / 512, (chunk * p.totalChunks) / 512);
      },
    });
  } finally {
    bar.stop();
  }
}
