// Guest side of the smoke suite's reboot check: boot 1 (SMOKE_PHASE=write) writes a pattern
// to the kept disk, boot 2 (SMOKE_PHASE=read: same image, fresh kernel, empty page cache)
// reads it back.
import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { guestDisk, requireGuest } from '../vm/guest.js';
import { pattern, PATTERN_LENGTH, PATTERN_OFFSET } from './smoke-pattern.js';

requireGuest();

const seed = process.env.SMOKE_SEED ?? '';
const phase = process.env.SMOKE_PHASE;

describe('kept disk across a reboot', () => {
  test(`has a seed and a phase (${phase})`, () => {
    expect(seed).toMatch(/^[0-9a-f]{16,}$/);
    expect(['write', 'read']).toContain(phase);
  });

  if (phase === 'write') {
    test('boot 1: write the pattern and flush', () => {
      const fd = openSync(guestDisk('keep'), 'r+');
      try {
        expect(writeSync(fd, pattern(seed), 0, PATTERN_LENGTH, PATTERN_OFFSET)).toBe(PATTERN_LENGTH);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    });
  }

  if (phase === 'read') {
    test('boot 2: the pattern is there', () => {
      const fd = openSync(guestDisk('keep'), 'r');
      const buf = Buffer.alloc(PATTERN_LENGTH);
      try {
        expect(readSync(fd, buf, 0, PATTERN_LENGTH, PATTERN_OFFSET)).toBe(PATTERN_LENGTH);
      } finally {
        closeSync(fd);
      }
      expect(buf.equals(pattern(seed))).toBe(true);
    });
  }
});
