import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes ai4i2020's spec into `specsDir` trained with `algorithms` only and its gate floor lowered
 * to 0.5, so a local platform's first start promotes a model in seconds (tests of what comes after).
 */
export function writeAi4iSpec(specsDir: string, algorithms: readonly string[] = ['lr']): void {
  const spec = JSON.parse(readFileSync(join(__dirname, '../../config/models/ai4i2020.json'), 'utf8')) as {
    training: Record<string, unknown>;
    gate: Record<string, unknown>;
  };
  writeFileSync(
    join(specsDir, 'ai4i2020.json'),
    JSON.stringify({ ...spec, training: { ...spec.training, algorithms }, gate: { ...spec.gate, floor: 0.5 } }),
  );
}
