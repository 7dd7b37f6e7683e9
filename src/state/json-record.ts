/**
 * Reading the JSON records of the state directory field by field: each
 * field is checked for what it must be, and the first that is not is named
 * in the error (which the record's own decoder makes: its code and its way out).
 */
export type Fail = (what: string) => Error;

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
export const isOptionalString = (v: unknown): v is string | undefined => v === undefined || isString(v);
export const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
export const isBool = (v: unknown): v is boolean => typeof v === 'boolean';

/** The text as a JSON object, or `fail` saying what it is instead. */
export function jsonObject(text: string, fail: Fail): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw fail(`not JSON (${(err as Error).message})`);
  }
  if (!isObject(raw)) throw fail('not a JSON object');
  return raw;
}

/** `obj[key]` when it passes `check`, else `fail` naming the field, its value and what it must be. */
export function field<T>(obj: Record<string, unknown>, key: string, check: (v: unknown) => v is T, what: string, fail: Fail): T {
  const v = obj[key];
  if (!check(v)) throw fail(`field "${key}" is ${JSON.stringify(v)}, expected ${what}`);
  return v;
}

/** The same for a field that may be absent. */
export function optionalField<T>(obj: Record<string, unknown>, key: string, check: (v: unknown) => v is T, what: string, fail: Fail): T | undefined {
  return obj[key] === undefined ? undefined : field(obj, key, check, what, fail);
}
