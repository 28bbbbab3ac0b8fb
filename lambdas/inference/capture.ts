import type { ModelManifest } from '../../core/manifest';
import {
  CAPTURE_KIND,
  CAPTURE_METRICS,
  type CaptureRecord,
  DEFAULT_MONITORING,
  type MonitoringSettings,
} from '../../core/monitoring/contract';
import { instanceId } from '../../core/monitoring/inference-id';
import type { Variant } from '../../core/registry/routing';
import type { FeatureRow, Prediction } from './backends/types';
import type { AppLog, MetricsRecorder } from './metrics';

/**
 * Data capture: a sampled request's line, handed to a sink. The line is a CapturedRequest: the
 * request body and the answer body as they were sent, spliced into one JSON line with a few
 * small fields, so capturing a batch costs a copy of text that already exists rather than
 * serialising every instance again (the monitoring job expands it per instance). A line that
 * would pass CloudWatch Logs' 256 KB event limit is written as one CaptureRecord line per
 * instance instead. In AWS the sink is the function's stdout (`"kind": "inference-capture"`),
 * which a CloudWatch Logs subscription filter sends through Firehose to capture/<model>/ in the
 * data bucket: nothing on the request path waits for a network call, and nothing there can fail
 * the request. The local platform's sink writes the same lines to its S3 server. A capture that
 * fails (a record that cannot be serialised, a sink that throws) is counted (CaptureErrors), never
 * raised. How many instances were captured (CapturedInstances) the caller records in the metric
 * entry it writes per request anyway: one more EMF line per request would cost more than the capture.
 */

/** CloudWatch Logs' event limit is 256 KB (UTF-8 bytes, plus 26 bytes of overhead); kept well under. */
export const MAX_CAPTURE_LINE_BYTES = 240 * 1024;

export type CaptureSettings = MonitoringSettings['capture'];

export interface CaptureSink {
  /** Takes one request's records (JSON lines, all of `model`); must not block on I/O (buffer, or write to a pipe). */
  write(model: string, lines: string): void;
}

/**
 * The Lambda sink: the function's log (stdout). The write is a syscall that wakes the log reader
 * (tens of microseconds on a busy machine, more than building the line), so it is made after the
 * answer is handed back: queued, and written by a setImmediate that runs once the handler's
 * promise has settled and the runtime has taken the answer (or, in a process serving several
 * requests, while the next one waits on onnxruntime). Whether Lambda's runtime has finished
 * sending the answer by then is its own affair (not measured here: the bench measures this
 * process). What is queued when Lambda freezes the environment is written when it thaws; only
 * an environment shut down while frozen loses its last request's line (CapturedInstances, counted
 * with the answer, against the monitoring job's CapturedRecords shows such gaps).
 */
export function stdoutSink(write: (text: string) => void = (text) => void process.stdout.write(text)): CaptureSink {
  let queued: string[] = [];
  const flush = () => {
    const text = queued.join('');
    queued = [];
    write(text);
  };
  return {
    write(_model, lines) {
      if (queued.length === 0) setImmediate(flush);
      queued.push(lines);
    },
  };
}

export const stdoutCaptureSink: CaptureSink = stdoutSink();

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
  /** The request body's text, as sent (valid JSON: it was parsed). */
  readonly requestText: string;
  /** The answer body's text (one line of JSON). */
  readonly answerText: string;
  readonly manifest: Pick<ModelManifest, 'features'>;
  readonly model: string;
  readonly version: number;
  readonly variant: Variant;
  readonly rows: readonly FeatureRow[];
  readonly predictions: readonly Prediction[];
  /** How many instances the request held. @default rows.length */
  readonly count?: number;
  readonly latencyMs: number;
  readonly time: Date;
}

export class Capture {
  private readonly random: () => number;
  /** Per manifest, its feature names as JSON (the same for every request). */
  private readonly names = new WeakMap<object, string>();

  constructor(private readonly deps: CaptureDeps) {
    this.random = deps.random ?? Math.random;
  }

  settingsFor(model: string): CaptureSettings {
    return this.deps.settings[model] ?? this.deps.settings['*'] ?? DEFAULT_MONITORING.capture;
  }

  /**
   * Records the answer when capture is on for its model and the request falls in the sample;
   * returns how many instances were captured (the caller counts them with its own metrics).
   */
  record(answer: CapturedAnswer): number {
    const settings = this.settingsFor(answer.model);
    if (!settings.enabled || settings.sampleRate <= 0) return 0;
    if (settings.sampleRate < 1 && this.random() >= settings.sampleRate) return 0;
    try {
      const line = this.requestLine(answer);
      this.deps.sink.write(answer.model, line ?? instanceLines(answer));
      return answer.count ?? answer.rows.length;
    } catch (error) {
      this.deps.recorder.record({
        name: CAPTURE_METRICS.captureErrors,
        unit: 'Count',
        value: 1,
        dimensions: { model: answer.model },
      });
      this.deps.log.warn('data capture failed; the answer was not affected', {
        model: answer.model,
        error: error instanceof Error ? error.message : String(error),
      });
      return 0;
    }
  }

  /** The CapturedRequest line (core/monitoring/contract.ts), or undefined when it would be too long for one log event. */
  private requestLine(answer: CapturedAnswer): string | undefined {
    // A JSON text can hold a line break only as whitespace (inside strings it is escaped): a space does the same.
    const request = /[\r\n]/.test(answer.requestText) ? answer.requestText.replace(/[\r\n]/g, ' ') : answer.requestText;
    // Model names, the variant and the id need no escaping (names are [a-z0-9_-], ids hex); the fields are CapturedRequest's.
    const line =
      `{"kind":"${CAPTURE_KIND}","requestId":"${answer.requestId}","time":"${answer.time.toISOString()}","model":"${answer.model}","version":${answer.version},` +
      `"variant":"${answer.variant}","latencyMs":${answer.latencyMs},"featureNames":${this.featureNames(answer.manifest)},"request":${request},"response":${answer.answerText}}\n`;
    // Characters are at most 3 UTF-8 bytes each (astral ones are 2 characters and 4 bytes).
    if (line.length * 3 <= MAX_CAPTURE_LINE_BYTES || Buffer.byteLength(line, 'utf8') <= MAX_CAPTURE_LINE_BYTES)
      return line;
    return undefined;
  }

  private featureNames(manifest: Pick<ModelManifest, 'features'>): string {
    let names = this.names.get(manifest);
    if (names === undefined) {
      names = JSON.stringify(manifest.features.map((f) => f.name));
      this.names.set(manifest, names);
    }
    return names;
  }
}

/** A request too large for one log event: one CaptureRecord line per instance. */
function instanceLines(answer: CapturedAnswer): string {
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
  return lines;
}
