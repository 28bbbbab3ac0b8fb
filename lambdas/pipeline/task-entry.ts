import type { CandidateResult } from '../../core/pipeline/contract';
import type { StepDeps } from './deps';
import type { PipelineEnv } from './handler';
import { parseTrainItem, trainOnTask } from './managed-train';

/**
 * What the managed training task runs (task-main.ts is its entry point): one candidate, from the
 * same input the train step gets (TRAIN_ITEM, plus the function's DATA_BUCKET, MODEL_BUCKET and
 * MODEL_SPECS_DIR), to the same outputs. Resolves with the process exit code: 0 when the candidate
 * and its CandidateResult are written; 1 with one line on stderr saying why otherwise (the state
 * machine sees the task fail and its Catch records the failure).
 */
export async function runTrainingTask(
  env: PipelineEnv & { readonly TRAIN_ITEM?: string },
  options: { readonly deps?: StepDeps; readonly log?: (line: string) => void } = {},
): Promise<number> {
  const log = options.log ?? ((line: string) => console.log(line));
  let result: CandidateResult;
  try {
    const item = parseTrainItem(env.TRAIN_ITEM);
    const started = Date.now();
    // Loaded here, not at the top: the handler module builds its dependencies when loaded, and a
    // missing variable must end as the one-line failure below, not a stack trace.
    const deps = options.deps ?? (await import('./handler')).buildStepDeps(env);
    result = await trainOnTask(item, deps);
    log(
      JSON.stringify({
        message: 'candidate trained',
        model: item.model,
        runId: item.runId,
        algorithm: result.algorithm,
        candidatePrefix: result.candidatePrefix,
        seconds: (Date.now() - started) / 1000,
      }),
    );
    return 0;
  } catch (error) {
    console.error(`managed training failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
