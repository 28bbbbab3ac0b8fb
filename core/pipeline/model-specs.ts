import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelSpecError, parseModelSpec, type ModelSpec } from './model-spec';
import { pushAll } from '../arrays';

/**
 * Reads every *.json spec in `dir` (adding a model is adding a file). All files are checked before
 * failing, so one run reports every broken spec; two specs claiming one name are refused because
 * they would fight over the same registry entry and schedule.
 */
export function loadModelSpecs(dir: string): ModelSpec[] {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
  } catch (error) {
    throw new ModelSpecError([`${dir}: cannot read the model spec folder (${(error as Error).message})`]);
  }
  const problems: string[] = [];
  const specs: ModelSpec[] = [];
  const sourceOf = new Map<string, string>();
  for (const file of names) {
    const source = join(dir, file);
    try {
      const spec = parseModelSpec(readFileSync(source, 'utf8'), source);
      const first = sourceOf.get(spec.name);
      if (first) {
        problems.push(`${source}: name "${spec.name}" is already used by ${first}; model names must be unique`);
        continue;
      }
      sourceOf.set(spec.name, source);
      specs.push(spec);
    } catch (error) {
      if (error instanceof ModelSpecError) pushAll(problems, error.problems);
      else problems.push(`${source}: cannot read the file (${(error as Error).message})`);
    }
  }
  if (problems.length > 0) throw new ModelSpecError(problems);
  return specs.sort((a, b) => a.name.localeCompare(b.name));
}
