import { CAPTURE_KIND, type CaptureRecord, type CapturedRequest } from './contract';
import { instanceId } from './inference-id';

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
  if (isObject(request) && isObject(request.columns))
    return expandColumns(request.columns, response, {
      time,
      model,
      version,
      variant: variant === 'canary' ? 'canary' : 'champion',
      latencyMs: typeof latencyMs === 'number' ? latencyMs : 0,
    });
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

/**
 * A columnar request ({"columns": {...}}) and its columnar answer ({"inferenceId", "labels",
 * "probabilities": {class: [...]}}): instance i is every column's value i, with the id
 * `<inferenceId>.<i>` (or the id itself for one instance), as the API issued them.
 */
function expandColumns(
  columns: Json,
  response: unknown,
  common: Pick<CaptureRecord, 'time' | 'model' | 'version' | 'variant' | 'latencyMs'>,
): CaptureRecord[] | undefined {
  if (!isObject(response) || typeof response.inferenceId !== 'string' || !Array.isArray(response.labels))
    return undefined;
  const labels = response.labels as unknown[];
  const probabilities = response.probabilities;
  if (!isObject(probabilities)) return undefined;
  const count = labels.length;
  const names = Object.keys(columns);
  const classes = Object.keys(probabilities);
  for (const name of names) {
    const column = columns[name];
    if (!Array.isArray(column) || column.length !== count) return undefined;
  }
  for (const c of classes) {
    const column = probabilities[c];
    if (!Array.isArray(column) || column.length !== count) return undefined;
  }
  const records: CaptureRecord[] = [];
  for (let i = 0; i < count; i++) {
    const label = labels[i];
    if (typeof label !== 'string') return undefined;
    const features: Record<string, number | string | null> = Object.create(null) as Record<
      string,
      number | string | null
    >;
    for (const name of names) {
      const v = (columns[name] as unknown[])[i];
      if (!isFeatureValue(v)) return undefined;
      features[name] = v as number | string | null;
    }
    const byClass: Record<string, number> = Object.create(null) as Record<string, number>;
    for (const c of classes) {
      const p = (probabilities[c] as unknown[])[i];
      if (typeof p !== 'number') return undefined;
      byClass[c] = p;
    }
    records.push({
      kind: CAPTURE_KIND,
      inferenceId: instanceId(response.inferenceId, i, count),
      ...common,
      features,
      label,
      probabilities: byClass,
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
