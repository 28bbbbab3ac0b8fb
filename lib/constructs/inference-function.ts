import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { acknowledgeResourceWildcards, acknowledgeSynchronousOnly, functionRole } from './least-privilege';
import { PROJECT_ROOT } from './project-root';
import { bundlingHookCommand, copyFolderCommand, removeFileCommand } from './bundling-hooks';

/** The inference handler's source file. */
export const INFERENCE_ENTRY = join(PROJECT_ROOT, 'lambdas', 'inference', 'handler.ts');

/** Where `bundledModelsDir` lands inside the function (the zip is unpacked in /var/task). */
export const BUNDLED_MODELS_PATH = '/var/task/bundled-models';

/** The post-response hold's preload (lambdas/inference/post-response-extension.ts), bundled as ESM next to the handler. */
export const POST_RESPONSE_PRELOAD = 'post-response-extension.mjs';
const POST_RESPONSE_SOURCE = join(PROJECT_ROOT, 'lambdas', 'inference', 'post-response-extension.ts');

/** onnxruntime-node ships one native binary per platform under this folder, ~300 MB in all. */
const ORT_BINARIES = join('node_modules', 'onnxruntime-node', 'bin', 'napi-v6');

export interface InferenceFunctionProps {
  /**
   * The handler source file (it must export `handler`).
   * @default - lambdas/inference/handler.ts
   */
  readonly entry?: string;
  /**
   * The instruction set. onnxruntime's arm64 Lambda support has had start-up crashes, so
   * x86_64 stays the default until arm64 is verified for a deployment.
   * @default lambda.Architecture.X86_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * Memory in MB; Lambda scales CPU with it, and onnxruntime plus a model need headroom.
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * @default Duration.seconds(10) - a cold start (model download + session) fits; API Gateway
   * gives up at 30 s anyway.
   */
  readonly timeout?: Duration;
  /**
   * Extra environment variables (the function adds NODE_OPTIONS and, with
   * `bundledModelsDir`, BUNDLED_MODELS_DIR).
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /**
   * A local folder of models copied into the function (to BUNDLED_MODELS_DIR): the
   * last-resort fallback when the registry cannot be read.
   * @default - no bundled models
   */
  readonly bundledModelsDir?: string;
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/** The onnxruntime-node binary folder Lambda loads for an architecture (`<os>/<arch>`). */
export function lambdaBinaryFolder(architecture: lambda.Architecture): string {
  if (architecture.name === lambda.Architecture.X86_64.name) return 'linux/x64';
  if (architecture.name === lambda.Architecture.ARM_64.name) return 'linux/arm64';
  throw new Error(`architecture must be x86_64 or arm64, got ${architecture.name}`);
}

/**
 * A bundling command that deletes every onnxruntime-node binary folder except the Lambda
 * platform's, so the asset ships ~45 MB of native code instead of ~300 MB (Lambda's unzipped
 * limit is 250 MB). It fails the synth if the wanted binary is missing, rather than deploying
 * a function that cannot load onnxruntime.
 */
export function keepOnlyLambdaBinaryCommand(outputDir: string, architecture: lambda.Architecture): string {
  return bundlingHookCommand('keep-binary', [join(outputDir, ORT_BINARIES), lambdaBinaryFolder(architecture)]);
}

/** Fails early when a bundled models folder is named but is not there. */
function checkModelsDir(dir: string): string {
  const absolute = resolve(dir);
  if (!existsSync(absolute) || !statSync(absolute).isDirectory()) {
    throw new Error(`bundledModelsDir must be an existing folder of models, got ${dir} (resolved to ${absolute})`);
  }
  return absolute;
}

/**
 * esbuild bundles the handler (no Docker); onnxruntime-node is native, so it is installed with
 * npm next to the bundle instead, with its CUDA download skipped (its host is unreachable and
 * Lambda has no GPU). @aws-sdk/* stays external: the Lambda runtime provides it.
 */
export function inferenceBundling(
  architecture: lambda.Architecture,
  modelsDir?: string,
  options: { readonly postResponseHold?: boolean } = {},
): BundlingOptions {
  return {
    forceDockerBundling: false,
    sourceMap: true,
    externalModules: ['@aws-sdk/*'],
    nodeModules: ['onnxruntime-node'],
    environment: { ONNXRUNTIME_NODE_INSTALL: 'skip' },
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (inputDir, outputDir) => [
        keepOnlyLambdaBinaryCommand(outputDir, architecture),
        // The copy of the whole project's lock file that npm ci needed; nothing reads it at run time.
        removeFileCommand(join(outputDir, 'package-lock.json')),
        ...(modelsDir ? [copyFolderCommand(modelsDir, join(outputDir, 'bundled-models'))] : []),
        ...(options.postResponseHold ? [postResponsePreloadCommand(inputDir, outputDir)] : []),
      ],
    },
  };
}

/**
 * A bundling command that bundles the post-response hold's preload as an ES module whose top-level
 * await registers the extension (Node finishes it before the runtime starts, as internal
 * extensions must register during init). esbuild is the one NodejsFunction bundles with (the
 * project's, under inputDir).
 */
export function postResponsePreloadCommand(inputDir: string, outputDir: string): string {
  return bundlingHookCommand('preload', [inputDir, POST_RESPONSE_SOURCE, join(outputDir, POST_RESPONSE_PRELOAD)]);
}

/**
 * The inference Lambda: Node.js 24 with onnxruntime-node bundled for one platform, X-Ray
 * tracing, source-mapped stack traces and logs kept for a month.
 */
export class InferenceFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: InferenceFunctionProps = {}) {
    const architecture = props.architecture ?? lambda.Architecture.X86_64;
    // Refuse an unsupported architecture at synth, not when the hook runs inside bundling.
    lambdaBinaryFolder(architecture);
    const modelsDir = props.bundledModelsDir === undefined ? undefined : checkModelsDir(props.bundledModelsDir);
    // The hold waits for each invocation's report from lambdas/inference/handler.ts; another
    // handler would never report, and every invocation would be held to its deadline.
    const postResponseHold = props.entry === undefined || resolve(props.entry) === INFERENCE_ENTRY;
    // An explicit group, because the one Lambda creates on its own keeps logs forever.
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    super(scope, id, {
      entry: props.entry ?? INFERENCE_ENTRY,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.seconds(10),
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      role: functionRole(scope, `${id}Role`, logGroup),
      environment: {
        ...props.environment,
        // esbuild writes the source map; Node only uses it when asked. The preload registers
        // the post-response hold before the runtime starts.
        NODE_OPTIONS: postResponseHold
          ? `--enable-source-maps --import=/var/task/${POST_RESPONSE_PRELOAD}`
          : '--enable-source-maps',
        ...(modelsDir ? { BUNDLED_MODELS_DIR: BUNDLED_MODELS_PATH } : {}),
      },
      bundling: inferenceBundling(architecture, modelsDir, { postResponseHold }),
    });
    acknowledgeResourceWildcards(this.role ?? this, 'inference function role');
    acknowledgeSynchronousOnly(this, 'by API Gateway');
  }
}
