import { AppError } from '@recipe-mesh/platform/errors';

/**
 * Opaque pagination cursors (REST `cursor`, GraphQL `after`): clients pass them back verbatim and
 * must not build them, which leaves us free to change what is inside. Today: `v1:<afterId>` in
 * unpadded base64url.
 */
export function encodeCursor(afterId: number): string {
  return Buffer.from(`v1:${afterId}`, 'utf8').toString('base64url');
}

// Exactly the base64url spellings of `v1:` and 1-10 ASCII digits, so that the OpenAPI document can
// publish the pattern and every string it admits decodes (Buffer's base64 decoder would skip stray
// characters instead of failing). "djE6" is `v1:`; each 3 digits 0x30-0x39 are 4 characters whose
// first two hold the first digit's bits (M, N, or O for 8 and 9), the third the second digit, the
// fourth the third; a trailing 1 or 2 digits are 2 or 3 characters.
const pair = '(?:[MN][DTjz]|O[DT])';
const threeDigits = `${pair}[AEIMQUYcgk][w-z0-5]`;
const twoDigits = `${pair}[AEIMQUYcgk]`;
const oneDigit = '(?:[MN][AQgw]|O[AQ])';
export const cursorPattern = new RegExp(
  `^djE6(?:(?:${threeDigits}){0,2}(?:${threeDigits}|${twoDigits}|${oneDigit})|(?:${threeDigits}){3}(?:${oneDigit})?)$`,
);

export function decodeCursor(cursor: string): number {
  const match = cursorPattern.test(cursor)
    ? /^v1:(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
    : null;
  if (!match) {
    throw new AppError('VALIDATION_FAILED', 'invalid cursor', [
      { path: 'cursor', message: 'not a cursor this API issued' },
    ]);
  }
  return Number(match[1]);
}
