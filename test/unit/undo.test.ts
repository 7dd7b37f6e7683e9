import { describe, expect, it } from 'vitest';
import { SnapstoreError } from '../../src/errors.js';
import { withTemporary, withUndo } from '../../src/util/undo.js';

/** Three steps, each making a thing; `failAt` makes the step of that number throw after it made its thing. */
async function build(made: Set<string>, failAt: number | undefined, failUndoOf?: string): Promise<string> {
  return withUndo(async (undo) => {
    for (const thing of ['file', 'record', 'device']) {
      made.add(thing);
      undo.push(thing, () => {
        if (thing === failUndoOf) throw new Error('EBUSY');
        made.delete(thing);
      });
      if (['file', 'record', 'device'].indexOf(thing) + 1 === failAt) throw new SnapstoreError('ENOSPC', `step ${failAt} failed`);
    }
    return 'done';
  });
}

describe('the undo stack', () => {
  it.each([1, 2, 3])('a failure at step %i leaves nothing, and the error says so', async (step) => {
    const made = new Set<string>();
    const err = await build(made, step).catch((e: SnapstoreError) => e);
    expect(made.size).toBe(0);
    expect(err).toBeInstanceOf(SnapstoreError);
    expect((err as SnapstoreError).code).toBe('ENOSPC');
    expect((err as SnapstoreError).message).toMatch(new RegExp(`step ${step} failed; nothing was left behind`));
  });

  it('undoes newest first', async () => {
    const order: string[] = [];
    await withUndo(async (undo) => {
      for (const t of ['a', 'b', 'c']) undo.push(t, () => void order.push(t));
      throw new SnapstoreError('BUG', 'stop');
    }).catch(() => {});
    expect(order).toEqual(['c', 'b', 'a']);
  });

  it('keeps everything once the work is complete', async () => {
    const made = new Set<string>();
    expect(await build(made, undefined)).toBe('done');
    expect([...made]).toEqual(['file', 'record', 'device']);
  });

  it('says what could not be undone, and still undoes the rest', async () => {
    const made = new Set<string>();
    const err = (await build(made, 3, 'record').catch((e: Error) => e)) as Error;
    expect([...made]).toEqual(['record']);
    expect(err.message).toMatch(/could not undo: record \(EBUSY\); undone: device, file/);
  });
});

describe('temporary work (withTemporary)', () => {
  const temporary = (made: Set<string>, fail: boolean, failUndoOf?: string) =>
    withTemporary(async (undo) => {
      for (const thing of ['mount point', 'mount']) {
        made.add(thing);
        undo.push(thing, () => {
          if (thing === failUndoOf) throw new Error('EBUSY');
          made.delete(thing);
        });
      }
      if (fail) throw new SnapstoreError('ENOENT', 'the walk failed');
      return 'compared';
    });

  it('is undone when the work succeeds', async () => {
    const made = new Set<string>();
    expect(await temporary(made, false)).toBe('compared');
    expect(made.size).toBe(0);
  });

  it('is undone when the work fails, and the error says so', async () => {
    const made = new Set<string>();
    const err = (await temporary(made, true).catch((e: SnapstoreError) => e)) as SnapstoreError;
    expect(made.size).toBe(0);
    expect(err.code).toBe('ENOENT');
    expect(err.message).toMatch(/the walk failed; nothing was left behind \(undone: mount, mount point\)/);
  });

  it('a success that leaves something behind is CLEANUP_INCOMPLETE, naming it', async () => {
    const made = new Set<string>();
    const err = (await temporary(made, false, 'mount').catch((e: SnapstoreError) => e)) as SnapstoreError;
    expect([...made]).toEqual(['mount']);
    expect(err.code).toBe('CLEANUP_INCOMPLETE');
    expect(err.message).toMatch(/could not undo: mount \(EBUSY\); undone: mount point/);
  });
});
