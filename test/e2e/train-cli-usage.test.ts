import { runTrainCli } from '../helpers/train-cli';

/**
 * `npm run train` given arguments it cannot use: one line saying what is wrong, the short usage,
 * exit 2 (it used to print parseArgs' TypeError with a stack and exit 1 or 0).
 */

const train = runTrainCli;

const SHORT_USAGE = /^Usage: npm run train -- --data <file> .*\n {7}npm run train -- --help {3}lists every option\n$/m;

describe('npm run train with arguments it cannot use', () => {
  test.each([
    [['--dat', 'x'], 'unknown option --dat: did you mean --data?'],
    [['--data'], '--data needs a value'],
    [['--data', 'a.csv', '--header=yes'], '--header takes no value'],
    [
      ['training/datasets/iris.csv'],
      'unexpected argument "training/datasets/iris.csv": every input is given with an option',
    ],
  ])('%j: exits 2 with one line and the short usage, no stack', async (args, line) => {
    const r = await train(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(line);
    expect(r.stderr).toMatch(SHORT_USAGE);
    expect(r.stderr).not.toMatch(/TypeError|ERR_PARSE_ARGS|\n\s+at /);
  });

  test('--help still prints every option and exits 0', async () => {
    const r = await train(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--missing-category own\|most-frequent/);
  });
});
