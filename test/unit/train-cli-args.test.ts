import { parseTrainCommand, UsageError, USAGE } from '../../training/cli-args';

const base = ['--data', 'a.csv', '--label', 'y', '--out', 'models/a'];

describe('--missing-category', () => {
  test('is absent unless given, so the trainer applies its default', () => {
    expect(parseTrainCommand(base)).not.toHaveProperty('missingCategory');
  });

  test.each(['own', 'most-frequent'])('accepts %s', (value) => {
    expect(parseTrainCommand([...base, '--missing-category', value]).missingCategory).toBe(value);
  });

  test('refuses anything else, naming the choices', () => {
    expect(() => parseTrainCommand([...base, '--missing-category', 'mode'])).toThrow(UsageError);
    expect(() => parseTrainCommand([...base, '--missing-category', 'mode'])).toThrow(
      '--missing-category must be own or most-frequent, got "mode"',
    );
  });

  test('is documented in --help with its default', () => {
    expect(USAGE).toMatch(/--missing-category own\|most-frequent/);
    expect(USAGE).toMatch(/default own/);
  });
});
