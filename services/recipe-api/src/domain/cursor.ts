import { AppError } from '@recipe-mesh/platform/errors';

/**
 * Opaque pagination cursors (REST `cursor`, GraphQL `after`): clients pass them back verbatim and
 * must not build them, which leaves us free to change what is inside.
 */
export function encodeCursor(afterId: number): string {
  return Buffer.from(`v1:${afterId}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const match = /^v1:(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const afterId = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(afterId)) {
    throw new AppError('VALIDATION_FAILED', 'invalid cursor', [
      { path: 'cursor', message: 'not a cursor this API issued' },
    ]);
  }
  return afterId;
}
