/**
 * What `npm run upload` and `npm run batch` share: `<file> <model> [--wait]` arguments, the local
 * platform's endpoints from its data folder, and the exit codes (a refusal prints its message and
 * exits 2; anything else exits 1).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseArgsProblem } from '../core/registry/parse-args-cli';
import { unreachableMessage } from '../core/registry/target-cli';
import { ENDPOINTS_FILE, type PlatformEndpoints, readEndpoints } from './endpoints';

/** A refusal: the message is printed as it is, exit 2. */
export class Refused extends Error {}

/** `<file> <model> [--wait]`, or a Refused carrying the problem and the usage. */
export function parseFileModelArgs(
  argv: readonly string[],
  usage: string,
): { source: string; model: string; wait: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: { wait: { type: 'boolean', default: false } },
    });
  } catch (error) {
    throw new Refused(`${parseArgsProblem(error, ['wait']) ?? (error as Error).message}\n\n${usage}`);
  }
  const [source, model, ...extra] = parsed.positionals;
  if (!source || !model || extra.length > 0) throw new Refused(usage);
  return { source, model, wait: parsed.values.wait };
}

/** The running local platform's endpoints (npm start writes them into its data folder). */
export function localEndpoints(dataDir: string): PlatformEndpoints & { readonly s3Endpoint: string } {
  let endpoints: PlatformEndpoints;
  try {
    endpoints = readEndpoints(dataDir);
  } catch (error) {
    throw new Refused((error as Error).message);
  }
  if (!endpoints.s3Endpoint)
    throw new Refused(`${join(dataDir, ENDPOINTS_FILE)} names no S3 endpoint: is it a local platform's?`);
  return { ...endpoints, s3Endpoint: endpoints.s3Endpoint };
}

/** A Refused naming the local S3 server and its endpoints file when `error` says it is not running; else `error`. */
export function asRefusedIfUnreachable(error: unknown, s3Endpoint: string, dataDir: string): unknown {
  const target = {
    env: { AWS_ENDPOINT_URL: s3Endpoint },
    endpointsFile: join(dataDir, ENDPOINTS_FILE),
    searched: join(dataDir, ENDPOINTS_FILE),
  };
  const unreachable = unreachableMessage(error, target, "the local platform's S3 server");
  return unreachable ? new Refused(unreachable) : error;
}

/** Runs a CLI's main and exits with its code (2 for a Refused, 1 for anything else). */
export function runCli(main: (argv: readonly string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(error instanceof Refused ? 2 : 1);
    },
  );
}
