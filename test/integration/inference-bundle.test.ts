import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleLikeDeployed, HANDLER_ENTRY } from '../../bench/cold-start';
import { PLATFORM_ESBUILD } from '../../lib/constructs/platform-function';

/**
 * The inference handler bundled as the function is deployed (PLATFORM_ESBUILD's esbuild settings,
 * onnxruntime-node and @aws-sdk/* external: Lambda provides the SDK, here it loads from
 * node_modules), then required by a plain `node --enable-source-maps` process, as Lambda's init does.
 */

const ROOT = join(__dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'inference-bundle-'));
const bundle = join(scratch, 'handler.js');
/** The bundle lives outside the project; its external modules resolve from the project's node_modules. */
const NODE_PATH = join(ROOT, 'node_modules');
const FUNCTION_ENV = {
  PATH: process.env.PATH ?? '',
  NODE_PATH,
  MODEL_BUCKET: 'models',
  AWS_REGION: 'us-east-1',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
};

/** Runs `script` in a new node process with source maps on; returns its stdout and stderr. */
function node(script: string, env: Record<string, string>): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync(process.execPath, ['--enable-source-maps', '-e', script], {
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

beforeAll(() => {
  bundleLikeDeployed(HANDLER_ENTRY, bundle, ['onnxruntime-node', ...PLATFORM_ESBUILD.externalModules]);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the inference handler bundled as deployed', () => {
  test('its source map carries no copy of the sources, only their paths', () => {
    const map = JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as { sources: string[]; sourcesContent?: unknown };
    expect(map.sourcesContent).toBeUndefined();
    expect(map.sources.some((s) => s.endsWith('lambdas/inference/handler.ts'))).toBe(true);
  });

  test('an error thrown at init has a stack that names the .ts file and the line of the throw', () => {
    // No MODEL_BUCKET: loadConfig throws ConfigError while the module initialises.
    const env: Record<string, string> = { ...FUNCTION_ENV };
    delete env.MODEL_BUCKET;
    const { stdout, status } = node(
      `try { require(${JSON.stringify(bundle)}); process.exit(3); } catch (e) { process.stdout.write(e.stack); }`,
      env,
    );
    expect(status).toBe(0);
    expect(stdout).toContain('ConfigError: invalid inference configuration: MODEL_BUCKET');
    const frame = /lambdas\/inference\/config\.ts:(\d+):\d+/.exec(stdout);
    expect(frame).not.toBeNull();
    const line = readFileSync(join(ROOT, 'lambdas', 'inference', 'config.ts'), 'utf8').split('\n')[
      Number(frame?.[1]) - 1
    ];
    expect(line).toContain('throw new ConfigError');
    // The top frame is the source, not the bundle.
    expect(stdout.split('\n')[1]).not.toContain('handler.js');
  });

  test.each([
    ['no model uses an endpoint', {}],
    ['a model uses an endpoint but none has opened yet', { SAGEMAKER_ENDPOINTS: '{"big-model":"big-model-endpoint"}' }],
  ])('the SageMaker runtime client is not loaded at init when %s', (_case, extra) => {
    // Both packages must resolve here, or the absence below would prove nothing.
    expect(() => require.resolve('@aws-sdk/client-sagemaker-runtime')).not.toThrow();
    const { stdout, stderr, status } = node(
      `require(${JSON.stringify(bundle)});
       const loaded = new Set(Object.keys(require.cache).flatMap((k) => /node_modules\\/@aws-sdk\\/([^/]+)\\//.exec(k)?.[1] ?? []));
       process.stdout.write(JSON.stringify([...loaded]));
       process.exit(0);`,
      { ...FUNCTION_ENV, ...extra },
    );
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    const loaded = JSON.parse(stdout) as string[];
    // The S3 client is created at init, so the check sees SDK modules loaded from node_modules.
    expect(loaded).toContain('client-s3');
    expect(loaded).not.toContain('client-sagemaker-runtime');
  });
});
