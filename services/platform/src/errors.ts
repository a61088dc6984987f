import { type ErrorCode, httpStatusOf } from './error-contract.js';

/**
 * Coded errors: the codes and what each protocol answers for them are the table in
 * error-contract.ts. The HTTP body shape is always `{ error: { code, message, details? } }`.
 */
export { type ErrorCode, httpStatusOf };

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
  }
  get status(): number {
    return httpStatusOf[this.code];
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown; [extra: string]: unknown };
}

export function errorBody(code: string, message: string, extra: Record<string, unknown> = {}): ErrorBody {
  return { error: { code, message, ...extra } };
}

/** Validate input with a zod schema; a failure is a 400 naming each bad field. */
export function parseInput<T>(
  schema: {
    safeParse(
      v: unknown,
    ): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
  },
  value: unknown,
  what = 'input',
): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new AppError(
    'VALIDATION_FAILED',
    `invalid ${what}`,
    result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
  );
}
