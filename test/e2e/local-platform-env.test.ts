import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalPlatform } from '../../local/platform';

/**
 * The local platform hands its own SDK clients (local endpoint, local keys) to what it runs in this
 * process, and the function processes get their environment explicitly: nothing it starts may
 * change this process's environment (a CLI or test in the same process would talk to the local
 * server, or to AWS with the local keys, without saying so).
 */
describe('starting the local platform', () => {
  const saved = { ...process.env };
  let dataDir: string;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'platform-env-'));
    // No AWS settings at all, so the in-process inference app cannot lean on the environment.
    for (const name of Object.keys(process.env)) if (/^(AWS_|POWERTOOLS_)/.test(name)) delete process.env[name];
  });

  afterAll(() => {
    process.env = saved;
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('leaves process.env unchanged, and the in-process API still reads the local model bucket', async () => {
    const before = { ...process.env };
    const lines: string[] = [];
    const platform = await startLocalPlatform({
      dataDir,
      port: 0,
      s3Port: 0,
      seed: false,
      log: (line) => lines.push(line),
    });
    try {
      expect({ ...process.env }).toEqual(before);
      // GET /models lists the registry in the model bucket through the inference app's S3 client.
      const response = await fetch(new URL('/models', platform.endpoints.apiUrl));
      expect(response.status).toBe(200);
      const body = (await response.json()) as { models?: { name: string }[] };
      expect(body.models).toEqual([]);
      expect({ ...process.env }).toEqual(before);
    } finally {
      await platform.close();
    }
    expect({ ...process.env }).toEqual(before);
    expect(lines.filter((line) => /ERROR/.test(line))).toEqual([]);
  });
});
