import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import type { ModelManifest } from '../../core/manifest';
import { SageMakerBackend } from '../../lambdas/inference/backends/sagemaker';
import { BackendError, toPredictions } from '../../lambdas/inference/backends/types';

const MANIFEST = {
  manifestVersion: 1,
  name: 'big',
  algorithm: 'gbdt',
  label: 'class',
  classes: ['no', 'yes'],
  features: [
    { name: 'amount', type: 'numeric', input: 'amount', missing: { policy: 'mean', value: 10 } },
    {
      name: 'country',
      type: 'categorical',
      input: 'country',
      missing: { policy: 'most_frequent', value: 'DE' },
      categories: ['DE', 'FR'],
    },
  ],
  inputs: [],
  outputs: { label: 'label', probabilities: 'probabilities' },
} as unknown as ModelManifest;

const sagemaker = mockClient(SageMakerRuntimeClient);
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

async function predictor() {
  return new SageMakerBackend(new SageMakerRuntimeClient({ region: 'eu-west-1' }), 'big-endpoint').open({
    manifest: MANIFEST,
  });
}

beforeEach(() => sagemaker.reset());

describe('SageMakerBackend', () => {
  it('sends {"instances": [...]} by feature name and reads {"probabilities": [[...]]}', async () => {
    // Prepare
    sagemaker.on(InvokeEndpointCommand).resolves({
      Body: json({
        probabilities: [
          [0.2, 0.8],
          [0.9, 0.1],
        ],
      }) as never,
      ContentType: 'application/json',
    });
    // Act
    const probabilities = await (
      await predictor()
    ).predict([
      { amount: 12.5, country: 'FR' },
      { amount: null, country: null },
    ]);
    // Assess
    expect(probabilities).toEqual([
      [0.2, 0.8],
      [0.9, 0.1],
    ]);
    expect(toPredictions(MANIFEST.classes, probabilities).map((p) => p.label)).toEqual(['yes', 'no']);
    const calls = sagemaker.commandCalls(InvokeEndpointCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0].args[0].input;
    expect(input).toMatchObject({
      EndpointName: 'big-endpoint',
      ContentType: 'application/json',
      Accept: 'application/json',
    });
    expect(JSON.parse(new TextDecoder().decode(input.Body as Uint8Array))).toEqual({
      instances: [
        { amount: 12.5, country: 'FR' },
        { amount: null, country: null },
      ],
    });
  });

  it('fails with BackendError when the endpoint fails', async () => {
    sagemaker.on(InvokeEndpointCommand).rejects(new Error('ModelError: the container crashed'));
    await expect((await predictor()).predict([{ amount: 1, country: 'DE' }])).rejects.toThrow(BackendError);
  });

  it.each([
    ['not JSON', new TextEncoder().encode('<html>')],
    ['no probabilities', json({ predictions: [1] })],
    ['too few rows', json({ probabilities: [[0.5, 0.5]] })],
    ['a row without one probability per class', json({ probabilities: [[1], [0.5, 0.5]] })],
    [
      'strings for numbers',
      json({
        probabilities: [
          ['0.5', '0.5'],
          [0.5, 0.5],
        ],
      }),
    ],
  ])('fails with BackendError when the endpoint answers %s', async (_case, body) => {
    sagemaker.on(InvokeEndpointCommand).resolves({ Body: body as never });
    await expect(
      (await predictor()).predict([
        { amount: 1, country: 'DE' },
        { amount: 2, country: 'FR' },
      ]),
    ).rejects.toThrow(BackendError);
  });

  it('does not need model.onnx: the endpoint holds the model', () => {
    const backend = new SageMakerBackend(new SageMakerRuntimeClient({ region: 'eu-west-1' }), 'e');
    expect(backend.needsModelBytes).toBe(false);
    expect(backend.kind).toBe('sagemaker');
  });
});
