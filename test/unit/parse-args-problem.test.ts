import { parseArgs } from 'node:util';
import { closestOption, parseArgsProblem } from '../../core/registry/parse-args-cli';

const OPTIONS = {
  data: { type: 'string', multiple: true },
  header: { type: 'boolean' },
  weight: { type: 'string' },
} as const;
const KNOWN = Object.keys(OPTIONS);

/** What parseArgs threw for these arguments, as the one line a CLI prints. */
function problemOf(args: string[], allowPositionals = false): string | undefined {
  try {
    parseArgs({ args, options: OPTIONS, allowPositionals, strict: true });
  } catch (error) {
    return parseArgsProblem(error, KNOWN);
  }
  throw new Error(`parseArgs accepted ${args.join(' ')}`);
}

describe('parseArgsProblem: a parseArgs error as one line', () => {
  test('names a mistyped option and the option it is closest to', () => {
    expect(problemOf(['--dat', 'x'])).toBe('unknown option --dat: did you mean --data?');
    expect(problemOf(['--dat=x'])).toBe('unknown option --dat: did you mean --data?');
    expect(problemOf(['a', '--wieght', '3'], true)).toBe('unknown option --wieght: did you mean --weight?');
  });

  test('suggests nothing when no option is close (a one-letter typo is close to every short word)', () => {
    expect(problemOf(['--colour'])).toBe('unknown option --colour');
    expect(problemOf(['-z'])).toBe('unknown option -z');
  });

  test('says an option needs a value, or takes none', () => {
    expect(problemOf(['--data'])).toBe('--data needs a value');
    expect(problemOf(['--data', '--header'])).toBe('--data needs a value');
    expect(problemOf(['--header=yes'])).toBe('--header takes no value');
  });

  test('says a stray argument is not an option', () => {
    expect(problemOf(['iris.csv'])).toBe('unexpected argument "iris.csv": every input is given with an option');
  });

  test('is one line for every parseArgs error, and undefined for any other error', () => {
    for (const args of [['--dat'], ['--data'], ['--data', '-x'], ['x']]) expect(problemOf(args)).not.toContain('\n');
    expect(parseArgsProblem(new Error('disk full'), KNOWN)).toBeUndefined();
    expect(parseArgsProblem(undefined, KNOWN)).toBeUndefined();
  });

  test('closestOption allows at most two edits', () => {
    expect(closestOption('smaple', ['sample', 'weight'])).toBe('--sample');
    expect(closestOption('xxxxxx', ['sample', 'weight'])).toBeUndefined();
  });
});
