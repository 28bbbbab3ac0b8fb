import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { POST_RESPONSE_PRELOAD, postResponsePreloadCommand } from '../../lib/constructs/inference-function';
import {
  EXTENSION_NAME,
  httpExtensionsApi,
  type PostResponseHold,
  startPostResponseHold,
} from '../../lambdas/inference/post-response-extension';
import { runBundlingHook } from '../helpers/bundling-hook';

/**
 * The post-response hold against a fake Lambda Extensions API (no local server for it exists):
 * the documented register and event/next calls over real HTTP, with invocations queued by the test.
 */

interface FakeExtensionsApi {
  readonly address: string;
  readonly registrations: { name: string | undefined; body: unknown }[];
  /** Times (performance.now) at which the extension asked for its next event. */
  readonly nextCalls: number[];
  invoke(requestId: string, deadlineMs?: number): void;
  refuseRegistration: boolean;
  close(): Promise<void>;
}

async function fakeExtensionsApi(): Promise<FakeExtensionsApi> {
  const queued: object[] = [];
  const waiting: ServerResponse[] = [];
  const deliver = () => {
    while (queued.length > 0 && waiting.length > 0)
      waiting.shift()?.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(queued.shift()));
  };
  const api: FakeExtensionsApi = {
    address: '',
    registrations: [],
    nextCalls: [],
    refuseRegistration: false,
    invoke(requestId, deadlineMs = Date.now() + 10_000) {
      queued.push({
        eventType: 'INVOKE',
        requestId,
        deadlineMs,
        invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:inference',
      });
      deliver();
    },
    close: async () => {
      for (const response of waiting.splice(0)) response.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      if (request.method === 'POST' && request.url === '/2020-01-01/extension/register') {
        api.registrations.push({
          name: request.headers['lambda-extension-name'] as string | undefined,
          body: JSON.parse(body),
        });
        if (api.refuseRegistration)
          return void response.writeHead(403).end('{"errorType":"Extension.RegistrationTooLate"}');
        return void response
          .writeHead(200, { 'lambda-extension-identifier': 'ext-1', 'content-type': 'application/json' })
          .end('{}');
      }
      if (
        request.method === 'GET' &&
        request.url === '/2020-01-01/extension/event/next' &&
        request.headers['lambda-extension-identifier'] === 'ext-1'
      ) {
        api.nextCalls.push(performance.now());
        waiting.push(response);
        return deliver();
      }
      response.writeHead(400).end('unexpected call');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(api, { address: `127.0.0.1:${(server.address() as AddressInfo).port}` });
}

const until = async (condition: () => boolean, what: string) => {
  const end = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

let fake: FakeExtensionsApi;
let hold: PostResponseHold | undefined;
// Per test: a loop from the test before fails its last next() when that test's server closes.
let warnings: string[];
let log: { warn: (message: string) => void };

beforeEach(async () => {
  const mine: string[] = [];
  warnings = mine;
  log = { warn: (message) => void mine.push(message) };
  fake = await fakeExtensionsApi();
});

afterEach(async () => {
  hold?.stop();
  await fake.close();
});

test('registers for INVOKE events under its name, and asks for the first event at once (which ends init)', async () => {
  hold = await startPostResponseHold({ AWS_LAMBDA_RUNTIME_API: fake.address }, log);
  expect(fake.registrations).toEqual([{ name: EXTENSION_NAME, body: { events: ['INVOKE'] } }]);
  await until(() => fake.nextCalls.length === 1, 'the first next');
  expect(hold?.holding).toBe(true);
});

test('asks for the next event only once the handler has answered and its deferred work is done', async () => {
  hold = await startPostResponseHold({ AWS_LAMBDA_RUNTIME_API: fake.address }, log);
  await until(() => fake.nextCalls.length === 1, 'the first next');
  fake.invoke('req-1');
  let finishWork!: () => void;
  const work = new Promise<void>((resolve) => (finishWork = resolve));
  // The event reached the extension; the handler has not answered yet: nothing asked.
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(fake.nextCalls).toHaveLength(1);
  hold?.answered('req-1', work);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(fake.nextCalls).toHaveLength(1);
  finishWork();
  await until(() => fake.nextCalls.length === 2, 'the next after the work');

  // The handler may answer before the extension sees the event.
  hold?.answered('req-2', Promise.resolve());
  fake.invoke('req-2');
  await until(() => fake.nextCalls.length === 3, 'the next after an answer that came first');
  expect(warnings).toEqual([]);
});

test('work still running at the deadline is let go with a warning, so the invocation does not time out', async () => {
  hold = await startPostResponseHold({ AWS_LAMBDA_RUNTIME_API: fake.address }, log);
  await until(() => fake.nextCalls.length === 1, 'the first next');
  fake.invoke('slow', Date.now() + 300);
  hold?.answered('slow', new Promise<void>(() => {}));
  await until(() => fake.nextCalls.length === 2, 'the next at the deadline');
  expect(warnings).toEqual([expect.stringContaining('not done by the invocation deadline')]);
});

test('a refused registration leaves no hold (the handler then awaits its work itself), with a warning; no runtime API, no hold and no call', async () => {
  fake.refuseRegistration = true;
  hold = await startPostResponseHold({ AWS_LAMBDA_RUNTIME_API: fake.address }, log);
  expect(hold).toBeUndefined();
  expect(warnings).toEqual([expect.stringContaining('could not register')]);
  expect(await startPostResponseHold({}, log)).toBeUndefined();
  expect(fake.registrations).toHaveLength(1);
  await expect(httpExtensionsApi(fake.address).register()).rejects.toThrow(/HTTP 403.*RegistrationTooLate/);
});

test('the preload as the function bundles it registers before the main module runs (NODE_OPTIONS=--import), and the main module finds the hold', async () => {
  const out = mkdtempSync(join(tmpdir(), 'preload-'));
  try {
    await runBundlingHook(postResponsePreloadCommand(process.cwd(), out));
    const main = `const hold = globalThis[Symbol.for('serverless-mlops.post-response-hold')]; console.log(JSON.stringify({ holding: hold?.holding === true })); process.exit(0);`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [`--import=${join(out, POST_RESPONSE_PRELOAD)}`, '-e', main],
      { env: { ...process.env, AWS_LAMBDA_RUNTIME_API: fake.address } },
    );
    expect(JSON.parse(stdout)).toEqual({ holding: true });
    expect(fake.registrations).toEqual([{ name: EXTENSION_NAME, body: { events: ['INVOKE'] } }]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
