import { SnapstoreError } from '../errors.js';

/** Store names become file names and dm device names: keep them plain. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$/;

export function checkStoreName(name: string): string {
  if (!NAME.test(name)) {
    throw new SnapstoreError(
      'BAD_NAME',
      `store name "${name}" is not allowed: use 1 to 48 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return name;
}
