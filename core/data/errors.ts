/**
 * A data file that cannot be trained on. The message names the file, row and column so the
 * user can fix it; `row` is 1-based as an editor shows it (header included when there is one).
 */
export class DataError extends Error {
  override readonly name = 'DataError';

  constructor(
    message: string,
    readonly details: { file?: string; row?: number; column?: string } = {},
  ) {
    super(message);
  }
}
