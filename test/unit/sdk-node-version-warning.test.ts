import { emitWarningIfUnsupportedVersion, state } from '@aws-sdk/core/client';

const SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/** What the SDK prints for a Node version, with its once-per-process latch reset. */
function sdkWarningsFor(version: string): string[] {
  const warnings: string[] = [];
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation((warning) => {
    warnings.push(String(warning));
  });
  try {
    state.warningEmitted = false;
    emitWarningIfUnsupportedVersion(version);
  } finally {
    spy.mockRestore();
  }
  return warnings;
}

function importSwitchModule(): Promise<void> {
  return jest.isolateModulesAsync(async () => {
    await import('../../core/sdk-node-version-warning');
  });
}

describe('the AWS SDK Node version warning stays out of normal output', () => {
  const saved = process.env[SWITCH];
  afterEach(() => {
    if (saved === undefined) delete process.env[SWITCH];
    else process.env[SWITCH] = saved;
  });

  test('without the switch the SDK prints its NodeVersionSupportWarning on Node 20', () => {
    delete process.env[SWITCH];
    const warnings = sdkWarningsFor('v20.20.2');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^NodeVersionSupportWarning:[\s\S]*will require node >=22/);
  });

  test('the module the entry points import first silences that warning with the switch the SDK reads', async () => {
    delete process.env[SWITCH];
    await importSwitchModule();
    expect(process.env[SWITCH]).toBe('true');
    expect(sdkWarningsFor('v20.20.2')).toEqual([]);
  });

  test('a user who sets the switch to false still sees the warning', async () => {
    process.env[SWITCH] = 'false';
    await importSwitchModule();
    expect(process.env[SWITCH]).toBe('false');
    expect(sdkWarningsFor('v20.20.2')).toHaveLength(1);
  });
});
