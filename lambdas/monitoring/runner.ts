import { z } from 'zod';
import { type MonitoringRun, runMonitoring } from '../../core/monitoring/job';
import { monitoringSettings } from '../../core/pipeline/model-spec';
import { type MonitoringDeps, MonitoringRequestError, monitoredSpec } from './deps';
import { NO_METRICS, recordReadMetrics, recordReportMetrics } from './metrics';

/**
 * `{ model }` from the schedule (an EventBridge rule per model, its input fixed), `{ model,
 * source: 'cli' }` from `npm run registry -- drift <model> --now`. Other fields are ignored.
 */
const eventSchema = z.object({
  model: z.string().min(1),
  source: z.string().optional(),
});

export type MonitoringRunner = (event: unknown) => Promise<MonitoringRun>;

/**
 * Binds the monitoring job to its dependencies: the Lambda handler, the local platform's timer
 * and the tests all run a tick through this one function. It reads the model's settings from its
 * spec, runs the job at the clock's time and records the report's metrics (and what it read from error output).
 */
export function createMonitoringRunner(deps: MonitoringDeps): MonitoringRunner {
  const recorder = deps.recorder ?? NO_METRICS;
  return async (event) => {
    const parsed = eventSchema.safeParse(event);
    if (!parsed.success)
      throw new MonitoringRequestError(`monitoring event must be { "model": "<name>" }, got ${JSON.stringify(event)}`);
    const { model } = parsed.data;
    const settings = monitoringSettings(monitoredSpec(deps, model));
    const run = await runMonitoring(
      {
        dataStore: deps.dataStore,
        models: deps.models,
        settings: () => settings,
        retrain: deps.retrain,
        log: deps.log,
      },
      model,
      deps.clock(),
    );
    recordReportMetrics(recorder, run.report, run.championVersion);
    recordReadMetrics(recorder, model, run.read);
    return run;
  };
}
