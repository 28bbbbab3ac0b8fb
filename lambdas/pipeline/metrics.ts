import type { MetricsRecorder } from '../shared/metrics';

/** The pipeline's metric names, exactly as the dashboard and alarms will use them. */
export const PIPELINE_METRICS = {
  /** One per finished run; dimensions model, outcome (promoted | canary | rejected | no-new-data). */
  runs: 'RetrainingRuns',
  /** Seconds from the execution's start to the end of register; dimension model. */
  runDuration: 'RetrainingDuration',
  /** The best candidate's holdout score on the gate metric; dimensions model, metric. */
  candidateScore: 'CandidateScore',
  /** The champion's score on the same holdout rows; dimensions model, metric. */
  championScore: 'ChampionScore',
  /** 1 when the run promoted its candidate, else 0; dimension model. */
  promoted: 'Promoted',
  /** One per failed run (recorded by the failure path); dimension model. */
  runFailures: 'RetrainingFailures',
  /** One per uploaded file sent to quarantine/; dimension model. */
  quarantinedFiles: 'QuarantinedFiles',
} as const;

export type PipelineMetricName = (typeof PIPELINE_METRICS)[keyof typeof PIPELINE_METRICS];
export type PipelineRecorder = MetricsRecorder<PipelineMetricName>;

export const PIPELINE_METRICS_SERVICE = 'pipeline';

/** For deps that report nothing (tests that do not look at metrics). */
export const NO_METRICS: PipelineRecorder = { record: () => undefined };
