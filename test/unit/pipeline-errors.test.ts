import { build } from 'esbuild';
import { runInNewContext } from 'node:vm';
import { join } from 'node:path';
import * as errors from '../../core/pipeline/errors';
import { failureCategory, PIPELINE_ERRORS } from '../../core/pipeline/errors';

type ErrorClass = new (message: never) => Error;
const exportedClasses = (Object.entries(errors) as [string, unknown][]).filter(
  (entry): entry is [string, ErrorClass] =>
    typeof entry[1] === 'function' && (entry[1] as { prototype: unknown }).prototype instanceof Error,
);
/** An instance of any of the classes: ModelSpecError takes its problems, the others a message ("x" either way). */
const instance = (E: unknown): Error => new (E as new (message: unknown) => Error)(['x']);

describe('pipeline error classes', () => {
  test('every exported class names itself after the class, and no two share a name', () => {
    expect(exportedClasses.length).toBeGreaterThanOrEqual(7);
    for (const [exported, ErrorClass] of exportedClasses) {
      const error = instance(ErrorClass);
      expect({ exported, name: error.name }).toEqual({ exported, name: exported });
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toBe('x');
    }
    const names = PIPELINE_ERRORS.map((E) => instance(E).name);
    expect(new Set(names).size).toBe(names.length);
    for (const [exported] of exportedClasses) expect(names).toContain(exported);
  });

  test('the names survive a minified bundle (what the Lambda ships), where class names do not', async () => {
    const bundle = await build({
      entryPoints: [join(__dirname, '..', '..', 'core', 'pipeline', 'errors.ts')],
      bundle: true,
      minify: true,
      write: false,
      format: 'cjs',
      platform: 'node',
      logLevel: 'silent',
    });
    const module = { exports: {} as Record<string, unknown> };
    runInNewContext(bundle.outputFiles[0].text, { module, exports: module.exports, require });
    const minified = module.exports as typeof errors;
    for (const [exported] of exportedClasses) {
      const ErrorClass = minified[exported as keyof typeof errors] as unknown as new (message: string) => Error;
      expect({ exported, name: new ErrorClass('x').name }).toEqual({ exported, name: exported });
    }
    // The check means something: the minifier did rename the classes themselves.
    expect(
      exportedClasses.some(
        ([exported]) => (minified[exported as keyof typeof errors] as { name: string }).name === exported,
      ),
    ).toBe(false);
  });

  test('a failure category tells bad data and bad input from capacity, transient errors and bugs', () => {
    expect(failureCategory('DataContractError')).toBe('data');
    expect(failureCategory('NoTrainingDataError')).toBe('data');
    expect(failureCategory('DataError')).toBe('data');
    expect(failureCategory('PipelineInputError')).toBe('input');
    expect(failureCategory('UnknownModelSpecError')).toBe('input');
    expect(failureCategory('DatasetTooLargeError')).toBe('capacity');
    expect(failureCategory('TrainingFailedError')).toBe('training');
    expect(failureCategory('PipelineConfigError')).toBe('configuration');
    expect(failureCategory('Lambda.ServiceException')).toBe('transient');
    expect(failureCategory('States.Timeout')).toBe('timeout');
    expect(failureCategory('Error')).toBe('internal');
    expect(failureCategory('TypeError')).toBe('internal');
    expect(failureCategory(undefined)).toBe('internal');
  });

  test('every class the pipeline throws on purpose has a category other than internal', () => {
    for (const ErrorClass of PIPELINE_ERRORS) {
      const name = instance(ErrorClass).name;
      expect({ name, category: failureCategory(name) }).not.toEqual({ name, category: 'internal' });
    }
  });
});
