/**
 * What a `node:util` parseArgs error means, as one line a user can act on: the registry CLI and
 * the training CLI both parse with parseArgs, whose own errors are TypeErrors with a stack.
 */

/** Edits (insert, delete, replace a character) between two words. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row.push(Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    previous = row;
  }
  return previous[b.length];
}

/**
 * The known option closest to a mistyped one, as `--name`, for "did you mean": at most 2 edits
 * away, and fewer for short words (any two-letter option is 2 edits from `-z`).
 */
export function closestOption(typed: string, known: readonly string[]): string | undefined {
  const word = typed.replace(/^-+/, '');
  const [best] = known.map((o) => ({ o, d: editDistance(word, o) })).sort((x, y) => x.d - y.d);
  return best && best.d <= Math.min(2, Math.floor(word.length / 2)) ? `--${best.o}` : undefined;
}

/**
 * One line for an error parseArgs threw (unknown option, missing or unexpected value, stray
 * argument), naming the nearest known option for a typo; undefined for any other error.
 */
export function parseArgsProblem(error: unknown, known: readonly string[]): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return undefined;
  const message = (error as Error).message;
  const option = /^(?:Unknown option|Option) '(-{1,2}[^' ]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) {
    const suggestion = closestOption(option, known);
    return `unknown option ${option}${suggestion ? `: did you mean ${suggestion}?` : ''}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    return /does not take an argument/.test(message) ? `${option} takes no value` : `${option} needs a value`;
  }
  const argument = /^Unexpected argument '([^']*)'/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && argument !== undefined)
    return `unexpected argument "${argument}": every input is given with an option`;
  return message.split('\n')[0];
}
