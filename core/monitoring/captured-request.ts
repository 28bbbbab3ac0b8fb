import { CAPTURE_KIND, type CaptureRecord, type CapturedRequest } from './contract';

/**
 * Turns a captured value into the instance records the monitoring job counts: a CaptureRecord
 * as it is, a CapturedRequest into one record per instance (features by name, whichever way the
 * caller sent them, paired with the answer's prediction at the same position). Anything else,
 * or a request whose instances and predictions do not pair up, is undefined: not a capture.
 */

type Json = Readonly<Record<string, unknown>>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isFeatureValue = (value: unknown) =>
  value === null || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));

function instancesOf(request: unknown): readonly unknown[] | undefined {
  if (Array.isArray(request)) return [request];
  if (!isObject(request)) return undefined;
  if (Array.isArray(request.instances)) return request.instances;
  if (request.features !== undefined) return [request.features];
  return undefined;
}

function featuresOf(instance: unknown, names: readonly string[]): CaptureRecord['features'] | undefined {
  const features: Record<string, number | string | null> = Object.create(null) as Record<
    string,
    number | string | null
  >;
  if (Array.isArray(instance)) {
    if (instance.length !== names.length) return undefined;
    for (let i = 0; i < names.length; i++) {
      if (!isFeatureValue(instance[i])) return undefined;
      features[names[i]] = instance[i] as number | string | null;
    }
    return features;
  }
  if (!isObject(instance)) return undefined;
  for (const name of Object.keys(instance)) {
    if (!isFeatureValue(instance[name])) return undefined;
    features[name] = instance[name] as number | string | null;
  }
  return features;
}

function asInstanceRecord(value: Json): CaptureRecord | undefined {
  const { inferenceId, time, model, version, features, label } = value;
  if (
    typeof inferenceId !== 'string' ||
    typeof time !== 'string' ||
    Number.isNaN(Date.parse(time)) ||
    typeof model !== 'string'
  )
    return undefined;
  if (typeof version !== 'number' || !Number.isInteger(version) || typeof label !== 'string' || !isObject(features))
    return undefined;
  for (const name in features) if (!isFeatureValue(features[name])) return undefined;
  return value as unknown as CaptureRecord;
}

function expandRequest(value: Json): CaptureRecord[] | undefined {
  const { requestId, time, model, version, variant, latencyMs, featureNames, request, response } = value;
  if (
    typeof requestId !== 'string' ||
    typeof time !== 'string' ||
    Number.isNaN(Date.parse(time)) ||
    typeof model !== 'string'
  )
    return undefined;
  if (
    typeof version !== 'number' ||
    !Number.isInteger(version) ||
    !Array.isArray(featureNames) ||
    !featureNames.every((n) => typeof n === 'string')
  )
    return undefined;
  const instances = instancesOf(request);
  const predictions =
    isObject(response) && Array.isArray(response.predictions)
      ? (response.predictions as CapturedRequest['response']['predictions'])
      : undefined;
  if (!instances || !predictions || instances.length !== predictions.length) return undefined;
  const records: CaptureRecord[] = [];
  for (let i = 0; i < instances.length; i++) {
    const prediction = predictions[i];
    const features = featuresOf(instances[i], featureNames as string[]);
    if (
      !features ||
      !isObject(prediction) ||
      typeof prediction.inferenceId !== 'string' ||
      typeof prediction.label !== 'string' ||
      !isObject(prediction.probabilities)
    )
      return undefined;
    records.push({
      kind: CAPTURE_KIND,
      inferenceId: prediction.inferenceId,
      time,
      model,
      version,
      variant: variant === 'canary' ? 'canary' : 'champion',
      features,
      label: prediction.label,
      probabilities: prediction.probabilities,
      latencyMs: typeof latencyMs === 'number' ? latencyMs : 0,
    });
  }
  return records;
}

/** The instance records a captured value holds, or undefined when it is not a capture. */
export function captureRecordsOf(value: unknown): CaptureRecord[] | undefined {
  if (!isObject(value) || value.kind !== CAPTURE_KIND) return undefined;
  if (typeof value.requestId === 'string' && 'request' in value) return expandRequest(value);
  const record = asInstanceRecord(value);
  return record ? [record] : undefined;
}
