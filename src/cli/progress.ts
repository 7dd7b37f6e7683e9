/**
 * Progress bars on a terminal. cli-progress draws them: it handles terminal
 * width, redraw throttling and ETA, which is more than is worth writing again.
 * It is loaded only when a bar is shown.
 */
import { createRequire } from 'node:module';

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

/** Our offline merge's progress on a bar counting 512-byte sectors (as the kernel's merge is shown). */
export function offlineMergeProgress(bar: Progress): (p: { doneChunks: number; totalChunks: number; doneBytes: number }) => void {
  return (p) => {
    const chunk = p.doneChunks > 0 ? p.doneBytes / p.doneChunks : 0;
    bar.update(p.doneBytes / 512, (chunk * p.totalChunks) / 512);
  };
}
