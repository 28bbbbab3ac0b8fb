import type {
  CandidateResult,
  EvaluationResult,
  RegistrationResult,
  ValidationResult,
} from '../core/pipeline/contract';
import type { PipelineEvent } from './local-pipeline';

/**
 * Pipeline progress as a few readable lines per run: the state entered, each candidate's scores,
 * the gate's decision, the version registered, and how the execution ended.
 */
/** The states worth a line (the rest are Pass/Choice plumbing or one line per Map item). */
const SHOWN_STATES =
  /^(Validate|Prepare|TrainCandidates|Evaluate|Gate|Register\w+|RecordFailure|Quarantined|NoNewData|PipelineFailed)$/;

export function progressReporter(write: (line: string) => void): (event: PipelineEvent) => void {
  const models = new Map<string, { model: string; started: number }>();
  const tag = (model: string) => `pipeline   ${model.padEnd(10)}`;
  const score = (n: number) => n.toFixed(4);
  return (event) => {
    switch (event.type) {
      case 'started': {
        const input = event.input as { model?: string; key?: string; trigger?: string };
        const model = input.model ?? input.key?.split('/')[1] ?? '?';
        models.set(event.execution, { model, started: Date.now() });
        write(
          `${tag(model)}started ${input.trigger ?? ''}${input.key ? ` ${input.key}` : ''} (execution ${event.execution})`,
        );
        return;
      }
      case 'state': {
        const run = models.get(event.execution);
        if (run && SHOWN_STATES.test(event.state)) write(`${tag(run.model)}> ${event.state}`);
        return;
      }
      case 'step':
        for (const line of stepLines(event.step, event.result, score)) write(`${tag(event.model)}${line}`);
        return;
      case 'notification':
        write(`${tag(models.get(event.execution)?.model ?? '')}notice: ${event.subject}`);
        return;
      case 'finished': {
        const run = models.get(event.execution);
        const seconds = run ? ((Date.now() - run.started) / 1000).toFixed(1) : '?';
        const outcome =
          event.result.status === 'SUCCEEDED'
            ? 'succeeded'
            : `failed: ${event.result.error}${event.result.cause ? ` - ${event.result.cause.slice(0, 300)}` : ''}`;
        write(`${tag(run?.model ?? '?')}${outcome} (${seconds} s)`);
        models.delete(event.execution);
        return;
      }
    }
  };
}

function stepLines(step: string, result: unknown, score: (n: number) => string): string[] {
  switch (step) {
    case 'validate': {
      const v = result as ValidationResult;
      if (v.status === 'clean') {
        const dropped =
          v.duplicateRows > 0
            ? ` (${v.duplicateRows} duplicate row(s) dropped: already processed or repeated in the file)`
            : '';
        return [`data clean: ${v.rows} new row(s)${dropped} -> ${v.processedKey}`];
      }
      if (v.status === 'no-new-data') {
        return [
          `no new data: all ${v.rowsIn} clean row(s) are already in processed/ - nothing to train, no new version (record: ${v.runKey})`,
        ];
      }
      if (v.status === 'quarantined')
        return [`data quarantined -> ${v.quarantineKey} (${v.problems.slice(0, 3).join('; ')})`];
      if (v.status === 'duplicate') return [`already handled by ${v.handledBy}: nothing to do`];
      return [];
    }
    case 'train': {
      const c = result as CandidateResult;
      return [
        `candidate ${c.algorithm.padEnd(5)} selection macroF1 ${score(c.validation.macroF1)}, holdout macroF1 ${score(c.holdout.macroF1)} acc ${score(c.holdout.accuracy)}, ${c.parameters} parameters (${c.fitSeconds.toFixed(2)} s)`,
        ...c.warnings.map((w) => `warning: ${w}`),
      ];
    }
    case 'evaluate': {
      const e = result as EvaluationResult;
      const champion = e.champion
        ? `, champion v${e.champion.version} macroF1 ${score(e.champion.holdout.macroF1)}`
        : '';
      return [
        `best ${e.best.algorithm}: ${e.selection}`,
        `compared on ${e.comparison.rows} row(s) (${e.comparison.basis}): candidate macroF1 ${score(e.candidate.macroF1)}${champion}`,
        `gate: ${e.decision.promote ? 'PROMOTE' : 'keep champion'} - ${e.decision.reason}`,
      ];
    }
    case 'register': {
      const r = result as RegistrationResult;
      const serving = r.promoted
        ? ' (now serving)'
        : r.canary
          ? ` (canary: serving ${r.canary.weight}% of callers; rollout ${r.canary.rolloutId}, steps ${r.canary.steps.join(' -> ')}%, ${r.canary.bakeSeconds} s each)`
          : '';
      return [
        `registered v${r.version} as ${r.alias}${serving}`,
        ...(r.note ? [`not promoted: ${r.note.replace(/^.*; not (promoted|rolled out): /, '')}`] : []),
      ];
    }
    default:
      return [];
  }
}
