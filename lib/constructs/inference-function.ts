import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { PROJECT_ROOT } from './project-root';
import { bundlingHookCommand, copyFolderCommand } from './bundling-hooks';
import {
  type AfterBundling,
  lambdaBinaryFolder,
  PlatformFunction,
  type PlatformFunctionOptions,
  platformBundling,
} from './platform-function';

export { keepOnlyLambdaBinaryCommand } from './platform-function';

/** The inference handler's source file. */
const INFERENCE_ENTRY = join(PROJECT_ROOT, 'lambdas', 'inference', 'handler.ts');

/** Where `bundledModelsDir` lands inside the function (the zip is unpacked in /var/task). */
const BUNDLED_MODELS_PATH = '/var/task/bundled-models';

/** The post-response hold's preload (lambdas/inference/post-response-extension.ts), bundled as ESM next to the handler. */
export const POST_RESPONSE_PRELOAD = 'post-response-extension.mjs';
const POST_RESPONSE_SOURCE = join(PROJECT_ROOT, 'lambdas', 'inference', 'post-response-extension.ts');

export interface InferenceFunctionProps extends PlatformFunctionOptions {
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
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * A local folder of models copied into the function (to BUNDLED_MODELS_DIR): the
   * last-resort fallback when the registry cannot be read.
   * @default - no bundled models
   */
  readonly bundledModelsDir?: string;
}

/** Fails early when a bundled models folder is named but is not there. */
function checkModelsDir(dir: string): string {
  const absolute = resolve(dir);
  if (!existsSync(absolute) || !statSync(absolute).isDirectory()) {
    throw new Error(`bundledModelsDir must be an existing folder of models, got ${dir} (resolved to ${absolute})`);
  }
  return absolute;
}

/** The inference bundle's own steps: the bundled models and the post-response hold's preload, when asked. */
function inferenceSteps(modelsDir: string | undefined, postResponseHold: boolean): AfterBundling {
  return (inputDir, outputDir) => [
    ...(modelsDir ? [copyFolderCommand(modelsDir, join(outputDir, 'bundled-models'))] : []),
    ...(postResponseHold ? [postResponsePreloadCommand(inputDir, outputDir)] : []),
  ];
}

/**
 * How a function that loads models is bundled (the inference function, and the pipeline and
 * batch functions, which score with the same runtime): the platform's bundling with onnxruntime
 * for `architecture`, plus the bundled models and the post-response hold's preload when asked.
 */
export function inferenceBundling(
  architecture: lambda.Architecture,
  modelsDir?: string,
  options: { readonly postResponseHold?: boolean } = {},
): BundlingOptions {
  return platformBundling({
    architecture,
    onnxRuntime: true,
    afterBundling: inferenceSteps(modelsDir, options.postResponseHold ?? false),
  });
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
 * The inference Lambda: a PlatformFunction (Node.js 24, X-Ray tracing, source-mapped stack
 * traces, logs kept for a month) with onnxruntime-node bundled for one platform, the
 * post-response hold, and optionally models to fall back on.
 */
export class InferenceFunction extends PlatformFunction {
  constructor(scope: Construct, id: string, props: InferenceFunctionProps = {}) {
    const architecture = props.architecture ?? lambda.Architecture.X86_64;
    // Refuse an unsupported architecture at synth, not when the hook runs inside bundling.
    lambdaBinaryFolder(architecture);
    const modelsDir = props.bundledModelsDir === undefined ? undefined : checkModelsDir(props.bundledModelsDir);
    // The hold waits for each invocation's report from lambdas/inference/handler.ts; another
    // handler would never report, and every invocation would be held to its deadline.
    const postResponseHold = props.entry === undefined || resolve(props.entry) === INFERENCE_ENTRY;
    super(scope, id, {
      ...props,
      entry: props.entry ?? INFERENCE_ENTRY,
      purpose: 'inference function',
      invokedSynchronouslyBy: 'by API Gateway',
      architecture,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.seconds(10),
      environment: {
        ...props.environment,
        ...(modelsDir ? { BUNDLED_MODELS_DIR: BUNDLED_MODELS_PATH } : {}),
      },
      // The preload registers the post-response hold before the runtime starts.
      nodeOptions: postResponseHold ? [`--import=/var/task/${POST_RESPONSE_PRELOAD}`] : [],
      onnxRuntime: true,
      afterBundling: inferenceSteps(modelsDir, postResponseHold),
    });
  }
}
