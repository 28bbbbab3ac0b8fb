/** Quotes a value as one word for a POSIX shell (bundling hooks run with `bash -c`; printed commands are pasted into one). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** As shellQuote, but a plain value (letters, digits, and ./:=@%+-_) stays as it is, for commands a person reads. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(value) ? value : shellQuote(value);
}
