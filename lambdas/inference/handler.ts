import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { buildInferenceApp } from './build-app';
import { loadConfig } from './config';
import { METRICS_SERVICE, powertoolsLog } from './metrics';
import { installedHold } from './post-response-extension';
import { internalError } from './responses';

export { buildInferenceApp, type BuildOptions } from './build-app';

/**
 * The inference Lambda's entry point: wiring only. Configuration, SDK clients, the registry
 * reader, logger and metrics recorder are created once per execution environment (module
 * scope); a misconfigured function fails at init, naming every bad variable.
 *
 * Work deferred past the answer (the shadow) is left to the post-response hold when the preload
 * registered one (post-response-extension.ts): the answer goes back at once and the environment
 * is held until the work is done. Without a hold, the handler awaits that work before returning.
 */

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || METRICS_SERVICE });
const app = buildInferenceApp(loadConfig(process.env), { log: powertoolsLog(logger) });
const hold = installedHold();

export const handler = async (
  event: APIGatewayProxyEventV2,
  context?: Context,
): Promise<APIGatewayProxyStructuredResultV2> => {
  try {
    if (context) logger.addContext(context);
    return await app.handle(event);
  } catch (error) {
    // app.handle answers every error itself; this is the net under the net. Never throw to Lambda.
    const errorId = randomUUID();
    logger.error('unhandled error in handler', {
      errorId,
      error: error instanceof Error ? error.message : String(error),
    });
    return internalError(errorId);
  } finally {
    if (hold?.holding && context) hold.answered(context.awsRequestId, app.settled());
    else await app.settled();
  }
};
