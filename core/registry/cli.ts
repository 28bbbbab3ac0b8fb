import '../sdk-node-version-warning';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import {
  isMonitoringCommand,
  misplacedMonitoringOption,
  MONITORING_ENVIRONMENT,
  MONITORING_OPTIONS,
  MONITORING_USAGE,
  runMonitoringCommand,
} from '../monitoring/monitoring-cli';
import { S3ObjectStore } from '../s3-object-store';
import { AliasError, AliasMovedError } from './aliases';
import { OnnxModelValidator } from './onnx-validator';
import { parseArgsProblem } from './parse-args-cli';
import { CorruptRecordError, decodeManifest } from './records';
import { ModelRegistry } from './registry';
import { CorruptRoutingError } from './routing';
import {
  type HistoryEntry,
  isRoutingCommand,
  isRoutingRefusal,
  mergeHistory,
  misplacedOption,
  ROUTING_OPTIONS,
  ROUTING_USAGE,
  routingRow,
  runRoutingCommand,
} from './routing-cli';
import { RoutingStore } from './routing-store';
import {
  type CliTarget,
  cliTarget,
  modelBucketOf,
  TargetError,
  unknownModelMessage,
  unreachableMessage,
} from './target-cli';
import { listRuns, type RunRecord } from '../pipeline/runs';
import {
  type AliasRecord,
  DEFAULT_ALIAS,
  RegistrationError,
  type SchemaChange,
  type SchemaChangeApproval,
  SchemaMismatchError,
  UnknownModelError,
  type VersionSummary,
} from './types';
import { maxOf } from '../arrays';

export const USAGE = `usage: npm run registry -- <command> [options]

commands:
  list                                   models, their version count and champion
  versions <model>                       versions of a model, with metrics and aliases
  register <model> <dir> [--reason r] [--parent n] [--allow-schema-change]
                                         validate and register <dir>/model.onnx + <dir>/manifest.json
  promote <model> <version> [--alias a] [--reason r] [--allow-schema-change]
                                         point the alias (default champion) at the version
  rollback <model> [--alias a] [--reason r]
                                         move the alias back to the version that served before
  history <model> [--alias a] [--at <iso time>]
                                         every alias move; with --at, the version serving then
  runs <model>                           retraining runs: candidates' scores, decision, version
${ROUTING_USAGE}
${MONITORING_USAGE}

options: --json prints machine-readable JSON
         --allow-schema-change accepts a version whose features or classes differ from the
           champion's (refused otherwise); the change is recorded with --reason
exit codes: 0 done; 1 a canary/shadow command refused (the version cannot take traffic) or not
  possible in the current routing (a canary already runs, none to act on, the champion moved);
  no drift report yet, or the monitoring job failed; feedback labels refused or not sent;
  2 anything else that cannot be done as asked (usage, unknown model, schema differs, ...)
environment: MODEL_BUCKET (every command but drift and feedback), AWS_ENDPOINT_URL (S3-compatible
endpoint, e.g. the local platform's), AWS_REGION (default us-east-1), USER (recorded as the actor,
default "cli");
${MONITORING_ENVIRONMENT}
With none of MODEL_BUCKET, DATA_BUCKET, API_URL, MONITORING_FUNCTION and AWS_ENDPOINT_URL set, the
running local platform's (npm start) are used: LOCAL_DATA_DIR/endpoints.json (default .local/).`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** The S3 client the environment asks for; AWS_ENDPOINT_URL points it at an emulator. */
export function s3ClientFromEnv(env: NodeJS.ProcessEnv): S3Client {
  const region = env.AWS_REGION || 'us-east-1';
  // Keys in the given environment are used as given; otherwise the SDK's default chain applies.
  const {
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_SESSION_TOKEN: sessionToken,
  } = env;
  const credentials =
    accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey, sessionToken } } : {};
  const endpoint = env.AWS_ENDPOINT_URL;
  if (!endpoint) return new S3Client({ region, ...credentials });
  // Emulators serve buckets by path and may predate the SDK's default request checksums.
  return new S3Client({
    region,
    endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    ...credentials,
  });
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, maxOf(rows.map((r) => r[i].length))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const metric = (v: number) => v.toFixed(4);
const from = (r: AliasRecord) => (r.previousVersion === undefined ? '-' : `v${r.previousVersion}`);
const schemaNote = (change: SchemaChange | undefined) =>
  change ? ` [schema changed from champion v${change.championVersion}'s: ${change.differences}]` : '';

function versionsTable(versions: readonly VersionSummary[]): string {
  return table(
    ['version', 'algorithm', 'accuracy', 'macro F1', 'created', 'aliases', 'sha256'],
    versions.map((v) => [
      `v${v.version}`,
      v.algorithm,
      metric(v.metrics.accuracy),
      metric(v.metrics.macroF1),
      v.createdAt,
      v.aliases.join(','),
      v.sha256.slice(0, 12),
    ]),
  );
}

/** Alias moves, and routing changes (alias column "(routing)", from = the champion then) merged in by time. */
function historyTable(entries: readonly HistoryEntry[]): string {
  if (entries.length === 0) return '(no alias moves yet)';
  return table(
    ['time', 'alias', 'kind', 'from', 'to', 'actor', 'reason'],
    entries.map((m) =>
      m.kind === 'routing'
        ? routingRow(m)
        : [m.movedAt, m.alias, m.kind, from(m), `v${m.version}`, m.actor, `${m.reason}${schemaNote(m.schemaChange)}`],
    ),
  );
}

function runsTable(runs: readonly RunRecord[]): string {
  if (runs.length === 0) return '(no retraining runs yet)';
  return table(
    ['run', 'ended', 'status', 'candidates (holdout macro F1)', 'best', 'champion', 'result', 'reason'],
    runs.map((r) => {
      if (r.status === 'finished') {
        const s = r.summary;
        const candidates = s.candidates.map((c) => `${c.algorithm} ${metric(c.holdout.macroF1)}`).join(', ');
        const compared = s.comparison ? ` on ${s.comparison.rows} rows` : '';
        const champion = s.champion ? `v${s.champion.version} ${metric(s.champion.holdout.macroF1)}${compared}` : '-';
        return [
          r.runId,
          s.finishedAt,
          'finished',
          candidates,
          s.best,
          champion,
          `v${s.registration.version} ${s.registration.alias}`,
          s.decision.reason,
        ];
      }
      if (r.status === 'no-new-data')
        return [r.runId, r.record.finishedAt, 'no new data', '-', '-', '-', 'no new version', r.record.message];
      if (r.status === 'failed')
        return [r.runId, r.failure.failedAt ?? '-', 'failed', '-', '-', '-', '-', r.failure.error?.error ?? '-'];
      return [r.runId, '-', 'incomplete', '-', '-', '-', '-', '-'];
    }),
  );
}

function positiveInt(text: string | undefined, what: string): number {
  const value = Number(text);
  if (!text || !Number.isInteger(value) || value < 1)
    throw new UsageError(`${what} must be a positive whole number, got "${text ?? ''}"`);
  return value;
}

const OPTIONS = {
  alias: { type: 'string' },
  reason: { type: 'string' },
  parent: { type: 'string' },
  at: { type: 'string' },
  json: { type: 'boolean', default: false },
  'allow-schema-change': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  ...ROUTING_OPTIONS,
  ...MONITORING_OPTIONS,
} as const;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    throw new UsageError(parseArgsProblem(error, Object.keys(OPTIONS)) ?? (error as Error).message);
  }
}

/** Runs one registry command; returns the exit code (1: a routing command refused; 2: the request cannot be met as asked). */
export async function runRegistryCli(argv: string[], givenEnv: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  /** Set once a registry command (not drift or feedback) is about to talk to S3. */
  let registryTarget: CliTarget | undefined;
  try {
    const { values, positionals } = parse(argv);
    if (values.help || positionals.length === 0) {
      io.out(USAGE);
      return values.help ? 0 : 2;
    }
    const target = cliTarget(givenEnv);
    const { env } = target;
    const [first, ...rest] = positionals;
    // The data loop's commands read the data bucket and the APIs, not the registry.
    if (isMonitoringCommand(first))
      return await runMonitoringCommand(first, rest, {
        env,
        values,
        out: io.out,
        err: io.err,
        table,
        usage: (message) => new UsageError(message),
        s3Client: s3ClientFromEnv,
      });
    const misplacedMonitoring = misplacedMonitoringOption(first, values);
    if (misplacedMonitoring) throw new UsageError(misplacedMonitoring);
    const bucket = modelBucketOf(target);
    registryTarget = target;
    const client = s3ClientFromEnv(env);
    const store = new S3ObjectStore(client, bucket);
    const validator = new OnnxModelValidator();
    const registry = new ModelRegistry(store, validator);
    try {
      const routing = new RoutingStore(store, registry, validator);
      const actor = env.USER || 'cli';
      const [command, ...args] = positionals;
      const arg = (i: number, what: string) => {
        const value = args[i];
        if (value === undefined) throw new UsageError(`${command} needs <${what}>`);
        return value;
      };
      const print = (json: unknown, text: string) => io.out(values.json ? JSON.stringify(json, null, 2) : text);
      const allowSchemaChange = (fallback: string): SchemaChangeApproval | undefined =>
        values['allow-schema-change'] ? { reason: values.reason ?? fallback } : undefined;
      if (isRoutingCommand(command))
        return await runRoutingCommand(command, args, {
          routing,
          registry,
          actor,
          values,
          print,
          table,
          usage: (message) => new UsageError(message),
        });
      const misplaced = misplacedOption(command, values);
      if (misplaced) throw new UsageError(misplaced);
      switch (command) {
        case 'list': {
          const models = await registry.listModels();
          const rows = await Promise.all(
            models.map(async (model) => {
              const versions = await registry
                .listVersions(model)
                .catch((e: unknown) => (e instanceof UnknownModelError ? [] : Promise.reject(e)));
              const champion = versions.find((v) => v.aliases.includes(DEFAULT_ALIAS));
              return {
                model,
                versions: versions.length,
                latest: versions.at(-1)?.version,
                champion: champion?.version,
              };
            }),
          );
          const text =
            rows.length === 0
              ? '(no models registered)'
              : table(
                  ['model', 'versions', 'latest', 'champion'],
                  rows.map((r) => [
                    r.model,
                    String(r.versions),
                    r.latest === undefined ? '-' : `v${r.latest}`,
                    r.champion === undefined ? '-' : `v${r.champion}`,
                  ]),
                );
          print(rows, text);
          return 0;
        }
        case 'versions': {
          const versions = await registry.listVersions(arg(0, 'model'));
          print(versions, versionsTable(versions));
          return 0;
        }
        case 'register': {
          const [model, dir] = [arg(0, 'model'), arg(1, 'dir')];
          const manifestPath = join(dir, 'manifest.json');
          const [onnx, manifestText] = await Promise.all([
            readFile(join(dir, 'model.onnx')),
            readFile(manifestPath, 'utf8'),
          ]).catch((e: unknown) => {
            throw new UsageError(`cannot read ${dir}/model.onnx and manifest.json: ${(e as Error).message}`);
          });
          const parent = values.parent === undefined ? undefined : positiveInt(values.parent, '--parent');
          const registered = await registry.register(model, onnx, decodeManifest(manifestText, manifestPath), {
            actor,
            reason: values.reason,
            parentVersion: parent,
            allowSchemaChange: allowSchemaChange('registered with --allow-schema-change'),
          });
          const { manifest } = registered;
          print(
            registered,
            `registered ${model} v${registered.version} (${manifest.algorithm}, sha256 ${manifest.sha256.slice(0, 12)})${schemaNote(manifest.registration.schemaChange)}`,
          );
          return 0;
        }
        case 'promote': {
          const [model, version] = [arg(0, 'model'), positiveInt(arg(1, 'version'), '<version>')];
          const alias = values.alias ?? DEFAULT_ALIAS;
          const before = await registry.resolveAlias(model, alias);
          const record = await registry.promote(model, version, {
            alias,
            actor,
            reason: values.reason ?? 'promoted with the registry CLI',
            allowSchemaChange: allowSchemaChange('promoted with --allow-schema-change'),
          });
          const already = typeof before === 'object' && before.record.version === version;
          print(
            record,
            already
              ? `${alias} of ${model} is already v${version}`
              : `${alias} of ${model}: ${from(record)} -> v${record.version}${schemaNote(record.schemaChange)}`,
          );
          return 0;
        }
        case 'rollback': {
          const model = arg(0, 'model');
          const record = await registry.rollback(model, {
            alias: values.alias,
            actor,
            reason: values.reason ?? 'rolled back with the registry CLI',
          });
          print(record, `${record.alias} of ${model}: ${from(record)} -> v${record.version} (rolled back)`);
          return 0;
        }
        case 'history': {
          const model = arg(0, 'model');
          if (values.at !== undefined) {
            const at = new Date(values.at);
            if (Number.isNaN(at.getTime()))
              throw new UsageError(`--at must be an ISO time (e.g. 2025-01-31T12:00:00Z), got "${values.at}"`);
            const alias = values.alias ?? DEFAULT_ALIAS;
            const version = await registry.versionAt(model, at, alias);
            print(
              { model, alias, at: at.toISOString(), version: version ?? null },
              `${alias} of ${model} at ${at.toISOString()}: ${version === undefined ? 'not set' : `v${version}`}`,
            );
            return 0;
          }
          const moves = await registry.history(model, values.alias);
          // Routing changes belong to no alias: shown when the whole history is asked for.
          const entries = values.alias === undefined ? mergeHistory(moves, await routing.history(model)) : moves;
          print(entries, historyTable(entries));
          return 0;
        }
        case 'runs': {
          const runs = await listRuns(store, arg(0, 'model'));
          print(runs, runsTable(runs));
          return 0;
        }
        default:
          throw new UsageError(`unknown command "${command}"`);
      }
    } catch (error) {
      if (error instanceof UnknownModelError && error.version === undefined)
        throw new TargetError(await unknownModelMessage(error.model, bucket, () => registry.listModels()));
      throw error;
    } finally {
      client.destroy();
    }
  } catch (error) {
    if (error instanceof TargetError) {
      io.err(error.message);
      return 2;
    }
    const unreachable = registryTarget && unreachableMessage(error, registryTarget, 'the model registry');
    if (unreachable) {
      io.err(unreachable);
      return 2;
    }
    if (error instanceof UsageError) {
      io.err(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (isRoutingRefusal(error) || error instanceof AliasMovedError) {
      io.err(`${error.name}: ${error.message}`);
      return 1;
    }
    if (error instanceof SchemaMismatchError) {
      io.err(`${error.name}: ${error.message} (--allow-schema-change --reason <why> accepts it)`);
      return 2;
    }
    if (
      error instanceof UnknownModelError ||
      error instanceof RegistrationError ||
      error instanceof AliasError ||
      error instanceof CorruptRecordError ||
      error instanceof CorruptRoutingError
    ) {
      io.err(`${error.name}: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

if (require.main === module) {
  // The SDK's notice that its 2027 releases will need Node 22 (the locked version runs on Node 20):
  // a screenful of warning above every one-line answer, as upload and npm start already know.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  runRegistryCli(process.argv.slice(2), process.env, { out: (t) => console.log(t), err: (t) => console.error(t) }).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
