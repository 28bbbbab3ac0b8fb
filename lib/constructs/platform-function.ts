import { join } from 'node:path';
import { Duration, type Size } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { REGISTRY_PREFIX } from '../../core/contracts/buckets';
import { METRICS_NAMESPACE, type MetricsService } from '../../core/contracts/metrics';
import { bundlingHookCommand, removeFileCommand } from './bundling-hooks';
import {
  acknowledgeResourceWildcards,
  acknowledgeSynchronousOnly,
  functionRole,
  grantList,
  grantObjects,
  type ObjectAction,
} from './least-privilege';
import { PROJECT_ROOT } from './project-root';

/** onnxruntime-node ships one native binary per platform under this folder, ~300 MB in all. */
const ORT_BINARIES = join('node_modules', 'onnxruntime-node', 'bin', 'napi-v6');

/** The onnxruntime-node binary folder Lambda loads for an architecture (`<os>/<arch>`). */
export function lambdaBinaryFolder(architecture: lambda.Architecture): string {
  if (architecture.name === lambda.Architecture.X86_64.name) return 'linux/x64';
  if (architecture.name === lambda.Architecture.ARM_64.name) return 'linux/arm64';
  throw new Error(`architecture must be x86_64 or arm64, got ${architecture.name}`);
}

/**
 * A command that deletes every onnxruntime-node binary folder except the Lambda platform's, so
 * the asset ships ~45 MB of native code instead of ~300 MB (Lambda's unzipped limit is 250 MB).
 * It fails the synth if the wanted binary is missing, rather than deploying a function that
 * cannot load onnxruntime.
 */
export function keepOnlyLambdaBinaryCommand(outputDir: string, architecture: lambda.Architecture): string {
  return bundlingHookCommand('keep-binary', [join(outputDir, ORT_BINARIES), lambdaBinaryFolder(architecture)]);
}

/** Bundling steps a function adds after esbuild (and npm, for onnxruntime) ran: `(inputDir, outputDir) => commands`. */
export type AfterBundling = (inputDir: string, outputDir: string) => string[];

/**
 * The esbuild settings every platform function is bundled with; bench/cold-start.ts bundles the
 * handler with these same values, so what it measures is what is deployed.
 *
 * - `sourceMap` with `sourcesContent: false`: the map still points stack traces (Node's
 *   `--enable-source-maps`) at the .ts file and line, without a copy of every source inside it
 *   (the inference map 4.4 MB -> 1.6 MB, which Node reads and parses at init).
 * - `mainFields: ['module', 'main']`: dependencies' ES module builds where they ship one (the
 *   SDK's tree-shake; the inference bundle 2.6 MB -> 2.2 MB), CommonJS otherwise.
 * Together they measured about 11 % less CPU for the inference handler's import (docs/benchmarks.md).
 */
export const PLATFORM_ESBUILD = {
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  externalModules: ['@aws-sdk/*'],
} as const;

/**
 * How every platform function is bundled: esbuild (no Docker) with PLATFORM_ESBUILD's settings
 * (source maps without embedded sources, ES module builds of dependencies, the AWS SDK left to
 * the Lambda runtime). With `onnxRuntime`, onnxruntime-node (native, so not bundled) is installed
 * with npm next to the bundle, its CUDA download skipped (its host is unreachable and Lambda has
 * no GPU), every binary but the architecture's deleted, and the lock file npm needed removed.
 */
export function platformBundling(options: {
  readonly architecture: lambda.Architecture;
  readonly onnxRuntime?: boolean;
  readonly afterBundling?: AfterBundling;
}): BundlingOptions {
  const { architecture, onnxRuntime = false, afterBundling } = options;
  const common: BundlingOptions = {
    forceDockerBundling: false,
    sourceMap: PLATFORM_ESBUILD.sourceMap,
    sourcesContent: PLATFORM_ESBUILD.sourcesContent,
    mainFields: [...PLATFORM_ESBUILD.mainFields],
    externalModules: [...PLATFORM_ESBUILD.externalModules],
  };
  const steps: AfterBundling = (inputDir, outputDir) => [
    ...(onnxRuntime
      ? [
          keepOnlyLambdaBinaryCommand(outputDir, architecture),
          // The copy of the whole project's lock file that npm ci needed; nothing reads it at run time.
          removeFileCommand(join(outputDir, 'package-lock.json')),
        ]
      : []),
    ...(afterBundling?.(inputDir, outputDir) ?? []),
  ];
  return {
    ...common,
    ...(onnxRuntime ? { nodeModules: ['onnxruntime-node'], environment: { ONNXRUNTIME_NODE_INSTALL: 'skip' } } : {}),
    ...(onnxRuntime || afterBundling
      ? { commandHooks: { beforeBundling: () => [], beforeInstall: () => [], afterBundling: steps } }
      : {}),
  };
}

/** What a platform function's owner may set; each platform construct documents its own defaults. */
export interface PlatformFunctionOptions {
  /**
   * The instruction set.
   * @default lambda.Architecture.ARM_64 - the cheaper one; a function with onnxruntime chooses
   * x86_64 until arm64 is verified for a deployment (its arm64 Lambda support has had start-up crashes)
   */
  readonly architecture?: lambda.Architecture;
  /**
   * Memory in MB; Lambda scales CPU with it.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * @default Duration.minutes(1)
   */
  readonly timeout?: Duration;
  /**
   * Extra environment variables (the function adds NODE_OPTIONS and, with `metricsService`, the
   * Powertools service and namespace).
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

export interface PlatformFunctionProps extends PlatformFunctionOptions {
  /** The handler source file (it must export `handler`). */
  readonly entry: string;
  /**
   * What the function is, in a few words ("pipeline function"): names its role in the
   * least-privilege acknowledgements.
   */
  readonly purpose: string;
  /**
   * The metrics `service` dimension (core/contracts/metrics.ts): sets POWERTOOLS_SERVICE_NAME and
   * POWERTOOLS_METRICS_NAMESPACE, which the dashboard and alarms select on.
   * @default - the function publishes no metrics
   */
  readonly metricsService?: MetricsService;
  /**
   * Where Lambda puts asynchronous invocations that failed after its retries.
   * @default - none: then `invokedSynchronouslyBy` must say who invokes it and handles its errors
   */
  readonly deadLetterQueue?: sqs.IQueue;
  /**
   * Who invokes the function synchronously (and so gets its errors back), when it has no
   * dead-letter queue: "by API Gateway".
   * @default - none; required without `deadLetterQueue`
   */
  readonly invokedSynchronouslyBy?: string;
  /** @default - Lambda's 512 MB of /tmp */
  readonly ephemeralStorageSize?: Size;
  /**
   * Installs onnxruntime-node for the architecture next to the bundle (see platformBundling).
   * @default false
   */
  readonly onnxRuntime?: boolean;
  /**
   * Node options after --enable-source-maps (e.g. a preload's --import).
   * @default - none
   */
  readonly nodeOptions?: readonly string[];
  /**
   * Bundling steps after the platform's own (copying specs or models next to the bundle).
   * @default - none
   */
  readonly afterBundling?: AfterBundling;
}

/**
 * One of the platform's functions, with the settings they all share: Node.js 24, esbuild
 * bundling with source maps used at run time, X-Ray tracing, an explicit log group with a
 * retention (the group Lambda creates on its own keeps logs forever), and a role that may write
 * that group and nothing else until grants are added. Grants are methods that return `iam.Grant`,
 * scoped to key prefixes from core/contracts/buckets.ts.
 *
 * The log group and role are created beside the function (`<id>Logs`, `<id>Role` in the same
 * scope), where each construct created them before this class existed: construct IDs are public
 * API, and moving them would replace the deployed log groups and roles.
 */
export class PlatformFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: PlatformFunctionProps) {
    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    // Refuse an unsupported architecture at synth, not when the hook runs inside bundling.
    if (props.onnxRuntime) lambdaBinaryFolder(architecture);
    if (!props.deadLetterQueue && !props.invokedSynchronouslyBy)
      throw new Error(
        `PlatformFunction ${id}: set deadLetterQueue (asynchronous invocations) or invokedSynchronouslyBy (who handles its errors); got neither`,
      );
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    super(scope, id, {
      entry: props.entry,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.minutes(1),
      ephemeralStorageSize: props.ephemeralStorageSize,
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      role: functionRole(scope, `${id}Role`, logGroup),
      deadLetterQueue: props.deadLetterQueue,
      environment: {
        ...props.environment,
        ...(props.metricsService
          ? { POWERTOOLS_SERVICE_NAME: props.metricsService, POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE }
          : {}),
        // esbuild writes the source map; Node only uses it when asked.
        NODE_OPTIONS: ['--enable-source-maps', ...(props.nodeOptions ?? [])].join(' '),
      },
      bundling: platformBundling({
        architecture,
        onnxRuntime: props.onnxRuntime,
        afterBundling: props.afterBundling,
      }),
    });
    acknowledgeResourceWildcards(this.role ?? this, `${props.purpose} role`);
    if (!props.deadLetterQueue && props.invokedSynchronouslyBy)
      acknowledgeSynchronousOnly(this, props.invokedSynchronouslyBy);
  }

  /** Named object actions on the keys under `prefix` of `bucket` (a prefix from core/contracts/buckets.ts). */
  public grantObjects(bucket: s3.IBucket, prefix: string, actions: readonly ObjectAction[]): iam.Grant {
    return grantObjects(bucket, this, prefix, actions);
  }

  /** s3:ListBucket for listings under `prefixes` only (listing also makes S3 answer 404, not 403, for a missing key). */
  public grantList(bucket: s3.IBucket, prefixes: readonly string[]): iam.Grant {
    return grantList(bucket, this, prefixes);
  }

  /** Reads (and lists) the model registry: registry/ of the model bucket. Writes nothing there. */
  public grantReadModels(modelBucket: s3.IBucket): iam.Grant {
    return this.grantObjects(modelBucket, REGISTRY_PREFIX, ['s3:GetObject']).combine(
      this.grantList(modelBucket, [REGISTRY_PREFIX]),
    );
  }
}
