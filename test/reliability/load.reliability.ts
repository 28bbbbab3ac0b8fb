import { recordPart } from './collector';
import { IRIS_CLASSES, irisRow, type PlatformProcess, postJson, startPlatformProcess } from './platform-process';

/**
 * Load: the platform process under 64 keep-alive connections for 60 s (RELIABILITY_LOAD_SECONDS)
 * of valid, varied POST /models/iris/predict bodies (single rows, arrays, batches), driven by
 * autocannon. Nothing may fail, and the process's memory after warm-up may not keep growing.
 */

// eslint-disable-next-line @typescript-eslint/no-require-imports -- autocannon ships no types; AutocannonResult types what we use
const autocannon = require('autocannon') as (options: Record<string, unknown>) => Promise<AutocannonResult>;

interface AutocannonResult {
  readonly requests: { readonly total: number; readonly average: number };
  readonly latency: { readonly p50: number; readonly p99: number; readonly max: number; readonly average: number };
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly '2xx': number;
  readonly duration: number;
}

const CONNECTIONS = 64;
const SECONDS = Number(process.env.RELIABILITY_LOAD_SECONDS ?? 60);
const WARM_UP_SECONDS = 8;
/**
 * Memory after warm-up may rise by at most this much. RSS is a sawtooth under this load: the
 * native output tensors of onnxruntime are freed only when V8 collects their wrappers, and V8 does
 * not count that memory, so RSS climbs ~1-2 MiB/s until a major GC, then drops (a 150 s run here:
 * 241-356 MiB, settling at ~270 MiB; a 60 s window may end before the first drop). A leak of
 * the requests' size would pass 1 KiB per request, about 200 MiB over this run.
 */
const RSS_GROWTH_BUDGET_BYTES = 192 * 2 ** 20;

/** A different valid body each time: a row by name, a row in schema order, or a batch of 2-20. */
function body(i: number): string {
  const row = irisRow(i);
  switch (i % 4) {
    case 0:
    case 1:
      return JSON.stringify({ features: row });
    case 2:
      return JSON.stringify([row.sepal_length, row.sepal_width, row.petal_length, row.petal_width]);
    default:
      return JSON.stringify({ instances: Array.from({ length: 2 + (i % 19) }, (_, k) => irisRow(i + k)) });
  }
}

function run(url: string, seconds: number): Promise<AutocannonResult> {
  let i = 0;
  return autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: '/models/iris/predict',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request: Record<string, unknown>) => ({ ...request, body: body(i++) }),
      },
    ],
  });
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

describe('load: 64 connections against POST /models/iris/predict', () => {
  let platform: PlatformProcess;

  beforeAll(async () => {
    platform = await startPlatformProcess();
  });

  afterAll(async () => {
    await platform?.stop();
  });

  test(`${SECONDS} s of varied valid requests: no errors, no non-2xx, memory does not keep growing`, async () => {
    // autocannon uses http://127.0.0.1 and the API listens there; "localhost" may resolve to ::1 first.
    const url = platform.endpoints.apiUrl.replace('localhost', '127.0.0.1');
    const warmUp = await run(url, WARM_UP_SECONDS);
    const rssStart = platform.rssBytes();
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(platform.rssBytes()), 5_000);
    let result: AutocannonResult;
    try {
      result = await run(url, SECONDS);
    } finally {
      clearInterval(sampler);
    }
    const rssEnd = platform.rssBytes();
    const after = await postJson(platform.endpoints.apiUrl, '/models/iris/predict', { features: irisRow(1) });

    const failed = result.errors + result.timeouts + result.non2xx;
    recordPart({
      part: 'Load',
      what: `${SECONDS} s at ${CONNECTIONS} connections (autocannon, keep-alive) of valid POST /models/iris/predict bodies (a row by name, a row in schema order, batches of 2-20), against the platform as its own process (npm start's code), after a ${WARM_UP_SECONDS} s warm-up.`,
      rows: [
        {
          case: 'warm-up requests',
          tried: warmUp.requests.total,
          survived: warmUp['2xx'],
          lost: warmUp.errors + warmUp.timeouts + warmUp.non2xx,
        },
        {
          case: 'measured requests',
          tried: result.requests.total,
          survived: result['2xx'],
          lost: failed,
          notes: `${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`,
        },
      ],
      measurements: {
        'throughput (mean)': `${result.requests.average.toFixed(0)} requests/s`,
        'latency p50 / p99 / max': `${result.latency.p50} / ${result.latency.p99} / ${result.latency.max} ms`,
        'platform RSS after warm-up': mib(rssStart),
        'platform RSS at the end': mib(rssEnd),
        'platform RSS every 5 s': samples.map((s) => (s / 2 ** 20).toFixed(0)).join(', ') + ' MiB',
        'RSS bound': `end and every sample < after warm-up + ${mib(RSS_GROWTH_BUDGET_BYTES)} (${mib(rssStart + RSS_GROWTH_BUDGET_BYTES)}); a sawtooth, see load.reliability.ts`,
      },
    });

    expect({ errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx }).toEqual({
      errors: 0,
      timeouts: 0,
      non2xx: 0,
    });
    expect(result['2xx']).toBe(result.requests.total);
    expect(result.requests.total).toBeGreaterThan(SECONDS * 10);
    expect(Math.max(rssEnd, ...samples)).toBeLessThan(rssStart + RSS_GROWTH_BUDGET_BYTES);
    expect(after.status).toBe(200);
    expect(IRIS_CLASSES).toContain((after.json.predictions as { label: string }[])[0].label);
  });
});
