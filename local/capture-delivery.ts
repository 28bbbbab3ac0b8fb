import { randomUUID } from 'node:crypto';
import { captureObjectPrefix, compactTime } from '../core/monitoring/contract';
import type { ObjectStore } from '../core/object-store';
import type { CaptureSink } from '../lambdas/inference/capture';

/**
 * What the stack's capture path (CloudWatch Logs subscription -> Firehose -> S3) does, on the
 * local platform: captured lines are buffered per model and written every `intervalMs` (or when a
 * model's buffer reaches `maxBytes`) as one object of JSON lines under
 * capture/<model>/date=<day>/hour=<hour>/, the partition of the flush time, as Firehose uses its
 * arrival time. Differences from AWS: the buffer is in this process (Ctrl-C loses at most the
 * last interval's records, as a Firehose buffer lost to an outage would), and objects are not
 * compressed (neither are Firehose's here: no compression is configured).
 */

export interface CaptureDeliveryOptions {
  readonly store: Pick<ObjectStore, 'put'>;
  /** @default 1000 (Firehose's smallest buffer interval is 60 s; locally a test should not wait that long) */
  readonly intervalMs?: number;
  /** @default 1 MiB */
  readonly maxBytes?: number;
  readonly onError?: (error: unknown) => void;
  readonly clock?: () => Date;
}

export class LocalCaptureDelivery implements CaptureSink {
  private readonly buffers = new Map<string, string[]>();
  private readonly sizes = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private pending: Promise<void> = Promise.resolve();
  private readonly clock: () => Date;

  constructor(private readonly options: CaptureDeliveryOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.timer = setInterval(() => void this.flush(), options.intervalMs ?? 1000).unref();
  }

  write(model: string, lines: string): void {
    const buffer = this.buffers.get(model) ?? [];
    buffer.push(lines);
    this.buffers.set(model, buffer);
    const size = (this.sizes.get(model) ?? 0) + lines.length;
    this.sizes.set(model, size);
    if (size >= (this.options.maxBytes ?? 1024 * 1024)) void this.flush();
  }

  /** Writes every buffered line; resolves when what was buffered at the call is stored. */
  flush(): Promise<void> {
    const batches = [...this.buffers.entries()];
    this.buffers.clear();
    this.sizes.clear();
    const now = this.clock();
    const writes = batches.map(([model, lines]) =>
      this.options.store
        .put(`${captureObjectPrefix(model, now)}${compactTime(now)}-${randomUUID()}.jsonl`, lines.join(''), {
          contentType: 'application/x-ndjson',
        })
        .then(
          () => undefined,
          (error: unknown) => this.options.onError?.(error),
        ),
    );
    this.pending = this.pending.then(() => Promise.all(writes)).then(() => undefined);
    return this.pending;
  }

  /** Stops the timer and writes what is buffered. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
