import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { InferenceApi } from '../lib/constructs/inference-api';

/**
 * Synthesises a stack with the InferenceApi with full bundling (esbuild + the npm install of
 * onnxruntime-node) and reports the inference function's asset size against Lambda's limits.
 *
 *   npx tsx bench/bundle-size.ts [--arch x86_64|arm64] [--models <dir>] [--entry <file>] [--keep]
 *
 * Exits 1 when the asset is over Lambda's 250 MB unzipped limit, or with --check over the
 * 25 MB zipped budget.
 */

export const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;
/** Above this a zip cannot be uploaded directly (CDK goes through S3, which is fine). */
export const LAMBDA_DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024;
/** The product's budget for the zipped inference function (`--check`): half the direct-upload limit. */
export const ZIPPED_BUDGET = 25 * 1024 * 1024;

export interface FileSize {
  readonly path: string;
  readonly bytes: number;
}

function filesUnder(dir: string): FileSize[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const path = join(entry.parentPath, entry.name);
      return { path: relative(dir, path), bytes: statSync(path).size };
    });
}

/** The zipped size, with the `zip` CLI at its default level (close to what CDK uploads). */
function zippedBytes(dir: string, scratch: string): number {
  const zipFile = join(scratch, 'asset.zip');
  execFileSync('zip', ['-q', '-r', '-X', zipFile, '.'], { cwd: dir });
  return statSync(zipFile).size;
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export interface BundleSizeOptions {
  /** @default lambda.Architecture.X86_64 */
  readonly architecture?: lambda.Architecture;
  /** A models folder bundled with the function (bundledModelsDir). */
  readonly models?: string;
  /** Another handler entry. */
  readonly entry?: string;
  /** Keep the cloud assembly (its folder is in the result) instead of deleting it. */
  readonly keep?: boolean;
}

export interface BundleSize {
  readonly architecture: string;
  readonly synthSeconds: number;
  /** The asset folder, gone unless `keep`. */
  readonly assetDir: string;
  readonly outdir: string;
  readonly unzippedBytes: number;
  readonly zippedBytes: number;
  readonly files: number;
  /** The five largest files. */
  readonly largest: readonly FileSize[];
}

/** Synthesises with full bundling and measures the inference function's asset. */
export function measureBundleSize(options: BundleSizeOptions = {}): BundleSize {
  const architecture = options.architecture ?? lambda.Architecture.X86_64;
  const outdir = mkdtempSync(join(tmpdir(), 'bundle-size-'));
  try {
    const started = performance.now();
    // Asset metadata tells us which asset folder belongs to the function (the CLI sets it too).
    const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
    const stack = new Stack(app, 'BundleSize');
    const modelBucket = new s3.Bucket(stack, 'ModelBucket');
    const inference = new InferenceApi(stack, 'Inference', {
      modelBucket,
      architecture,
      bundledModelsDir: options.models,
      entry: options.entry,
    });
    const assembly = app.synth();
    const synthSeconds = (performance.now() - started) / 1000;

    const template = assembly.getStackByName(stack.stackName).template as {
      Resources: Record<string, { Metadata?: Record<string, string> }>;
    };
    const logicalId = stack.getLogicalId(inference.fn.node.defaultChild as lambda.CfnFunction);
    const assetPath = template.Resources[logicalId]?.Metadata?.['aws:asset:path'];
    if (!assetPath || !existsSync(join(outdir, assetPath)))
      throw new Error(`no asset folder found for ${logicalId} in ${outdir}`);
    const assetDir = join(outdir, assetPath);

    const files = filesUnder(assetDir);
    const unzipped = files.reduce((sum, f) => sum + f.bytes, 0);
    const zipped = zippedBytes(assetDir, outdir);
    const largest = [...files].sort((a, b) => b.bytes - a.bytes).slice(0, 5);
    return {
      architecture: architecture.name,
      synthSeconds,
      assetDir,
      outdir,
      unzippedBytes: unzipped,
      zippedBytes: zipped,
      files: files.length,
      largest,
    };
  } finally {
    if (!options.keep) rmSync(outdir, { recursive: true, force: true });
  }
}

function main(): number {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string', default: 'x86_64' },
      models: { type: 'string' },
      entry: { type: 'string' },
      keep: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
    },
  });
  const architecture = values.arch === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;
  if (values.arch !== 'arm64' && values.arch !== 'x86_64')
    throw new Error(`--arch must be x86_64 or arm64, got ${values.arch}`);

  const size = measureBundleSize({ architecture, models: values.models, entry: values.entry, keep: values.keep });
  console.log(`architecture: ${size.architecture}`);
  console.log(`synth (with bundling): ${size.synthSeconds.toFixed(1)} s`);
  console.log(`asset: ${size.assetDir}`);
  console.log(
    `unzipped: ${mb(size.unzippedBytes)} (${size.unzippedBytes} bytes, ${size.files} files; Lambda limit ${mb(LAMBDA_UNZIPPED_LIMIT)})`,
  );
  console.log(
    `zipped:   ${mb(size.zippedBytes)} (${size.zippedBytes} bytes; direct-upload limit ${mb(LAMBDA_DIRECT_UPLOAD_LIMIT)})`,
  );
  console.log('largest files:');
  for (const f of size.largest) console.log(`  ${mb(f.bytes).padStart(9)}  ${f.path}`);
  if (values.keep) console.log(`kept ${size.outdir}`);
  if (size.unzippedBytes > LAMBDA_UNZIPPED_LIMIT) {
    console.log(
      `TARGET MISSED: the function is ${mb(size.unzippedBytes)} unzipped, over Lambda's ${mb(LAMBDA_UNZIPPED_LIMIT)}`,
    );
    return 1;
  }
  // --check (CI): the zipped bundle must also stay under the product's own budget.
  if (values.check && size.zippedBytes > ZIPPED_BUDGET) {
    console.log(
      `TARGET MISSED: the function is ${mb(size.zippedBytes)} zipped, over the ${mb(ZIPPED_BUDGET)} budget (cold-start download time grows with it)`,
    );
    return 1;
  }
  if (values.check) console.log(`check: ${mb(size.zippedBytes)} zipped is within the ${mb(ZIPPED_BUDGET)} budget`);
  return 0;
}

// The CLI runs only when this file is the entry point; bench/inference.ts imports measureBundleSize.
if (require.main === module) process.exit(main());
