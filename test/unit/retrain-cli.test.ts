import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockClient } from 'aws-sdk-client-mock';
import { manualExecutionName, runRetrainCli } from '../../core/pipeline/retrain-cli';

// Step Functions has no local server on these machines, so the SDK client is mocked at its boundary.
const sfn = mockClient(SFNClient);
const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:Retraining';

async function retrain(argv: string[], env: NodeJS.ProcessEnv = { STATE_MACHINE_ARN: ARN }) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runRetrainCli(
    argv,
    env,
    { out: (t) => out.push(t), err: (t) => err.push(t), sleep: async () => undefined },
    sfn as unknown as SFNClient,
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeEach(() => sfn.reset());

/** A port nothing listens on (one the OS just handed out and that was closed again). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('npm run retrain', () => {
  test('starts a manual execution for the model, named so that every start is distinct', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:manual-iris-1`, startDate: new Date() });
    const r = await retrain(['iris']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`started ${ARN}:manual-iris-1`);
    const call = sfn.commandCalls(StartExecutionCommand)[0].args[0].input;
    expect(call.stateMachineArn).toBe(ARN);
    expect(JSON.parse(call.input as string)).toEqual({ model: 'iris', trigger: 'manual' });
    expect(call.name).toMatch(/^manual-iris-\d{17}$/);
  });

  test('--wait follows the execution and exits 0 only when it succeeded', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:x`, startDate: new Date() });
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ status: 'RUNNING', executionArn: `${ARN}:x`, stateMachineArn: ARN, startDate: new Date() })
      .resolves({
        status: 'FAILED',
        error: 'States.TaskFailed',
        executionArn: `${ARN}:x`,
        stateMachineArn: ARN,
        startDate: new Date(),
      });
    const r = await retrain(['iris', '--wait']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAILED: States.TaskFailed/);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(2);
  });

  test('refuses a model without a spec, naming the known ones, and starts nothing', async () => {
    const r = await retrain(['iriss']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no model spec for "iriss" \(known models: ai4i2020, iris, sentiment, smoke\)/);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  test('says where to find the state machine when STATE_MACHINE_ARN is not set and no local platform runs', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'retrain-cli-'));
    try {
      const r = await retrain(['iris'], { LOCAL_DATA_DIR: empty });
      expect(r.code).toBe(2);
      expect(r.err).toMatch(
        /STATE_MACHINE_ARN is not set \(export it from the MlopsPipeline stack's StateMachineArn output\) and no local platform was found \(npm start writes .*endpoints\.json\)/,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('a local platform that is not running is one line and exit 2', async () => {
    const port = await closedPort();
    const r = await retrain(['iris'], { API_URL: `http://127.0.0.1:${port}` });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /^cannot reach the local platform at http:\/\/127\.0\.0\.1:\d+\/_local\/retrain\/iris \(ECONNREFUSED\): is npm start running\?$/,
    );
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  test("execution names fit Step Functions' rules", () => {
    expect(manualExecutionName('a'.repeat(64), new Date('2026-11-23T14:00:00.123Z'))).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });
});
