import { CAPTURE_KIND, CAPTURE_METRICS, type CaptureRecord, DEFAULT_MONITORING, type MonitoringSettings } from '../../core/monitoring/contract';
import { instanceId } from '../../core/monitoring/inference-id';
import type { Variant } from '../../core/registry/routing';
import type { FeatureRow, Prediction } from './backends/types';
import type { AppLog, MetricsRecorder } from './metrics';

/**
 * Data capture: one CaptureRecord per answered instance of a sampled request, handed to a sink.
 * In AWS the sink is the function's stdout (one JSON line each, `"kind": "inference-capture"`),
 * which a CloudWatch Logs subscription filter sends through Firehose to capture/<model>/ in the
 * data bucket: nothing on the request path waits for a network call, and nothing there can fail
 * the request. The local platform's sink writes the same lines to its S3 server. A capture that
 * fails (a record that cannot be serialised, a sink that throws) is counted (CaptureErrors), never
 * raised.
 */

export type CaptureSettings = MonitoringSettings['capture'];

export interface CaptureSink {
  /** Takes one request's records (JSON lines, all of `model`); must not block on I/O (buffer, or write to a pipe). */
  write(model: string, lines: string): void;
}

/** The Lambda sink: the function's log (stdout), one line per record. */
export const stdoutCaptureSink: CaptureSink = {
  write(_model, lines) {
    process.stdout.write(lines);
  },
};

export interface CaptureDeps {
  /** Per model; models not listed take the "*" entry, else DEFAULT_MONITORING.capture. */
  readonly settings: Readonly<Record<string, CaptureSettings>>;
  readonly sink: CaptureSink;
  readonly recorder: MetricsRecorder;
  readonly log: AppLog;
  /** @default Math.random */
  readonly random?: () => number;
}

export interface CapturedAnswer {
  readonly requestId: string;
  readonly model: string;
  readonly version: number;
  readonly variant: Variant;
  readonly rows: readonly FeatureRow[];
  readonly predictions: readonly Prediction[];
  readonly latencyMs: number;
  readonly time: Date;
}

export class Capture {
  private readonly random: () => number;

  constructor(private readonly deps: CaptureDeps) {
    this.random = deps.random ?? Math.random;
  }

  settingsFor(model: string): CaptureSettings {
    return this.deps.settings[model] ?? this.deps.settings['*'] ?? DEFAULT_MONITORING.capture;
  }

  /** Records the answer when capture is on for its model and the request falls in the sample. */
  record(answer: CapturedAnswer): void {
    const settings = this.settingsFor(answer.model);
    if (!settings.enabled || settings.sampleRate <= 0) return;
    if (settings.sampleRate < 1 && this.random() >= settings.sampleRate) return;
    const { recorder } = this.deps;
    try {
      const time = answer.time.toISOString();
      const count = answer.rows.length;
      let lines = '';
      for (let i = 0; i < count; i++) {
        const prediction = answer.predictions[i];
        const record: CaptureRecord = {
          kind: CAPTURE_KIND,
          inferenceId: instanceId(answer.requestId, i, count),
          time,
          model: answer.model,
          version: answer.version,
          variant: answer.variant,
          features: answer.rows[i] as CaptureRecord['features'],
          label: prediction.label,
          probabilities: prediction.probabilities,
          latencyMs: answer.latencyMs,
        };
        lines += `${JSON.stringify(record)}\n`;
      }
      this.deps.sink.write(answer.model, lines);
      recorder.record({ name: CAPTURE_METRICS.capturedInstances, unit: 'Count', value: count, dimensions: { model: answer.model } });
    } catch (error) {
      recorder.record({ name: CAPTURE_METRICS.captureErrors, unit: 'Count', value: 1, dimensions: { model: answer.model } });
      this.deps.log.warn('data capture failed; the answer was not affected', { model: answer.model, error: error instanceof Error ? error.message : String(error) });
    }
  }
}
