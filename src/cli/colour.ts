/**
 * Colour in text output: only for a person at a terminal, and never when
 * NO_COLOR is set to anything but the empty string (https://no-color.org),
 * nor on a terminal that says it cannot (TERM=dumb). A pipe, a file or a
 * log gets plain text, so grep and the journal see the words.
 */

export function colourWanted(stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (!stream.isTTY) return false;
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  return env['TERM'] !== 'dumb';
}

const SGR = { red: 31, green: 32, yellow: 33 } as const;
export type Colour = keyof typeof SGR;

/** `text` in colour when `on`, else as it is. */
export function paint(on: boolean, colour: Colour, text: string): string {
  return on ? `\x1b[${SGR[colour]}m${text}\x1b[0m` : text;
}
