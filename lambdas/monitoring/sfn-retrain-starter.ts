import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { RetrainStarter } from '../../core/monitoring/job';
import type { ExecutionInput } from '../../core/pipeline/contract';

/**
 * Starts the retraining state machine for a drift. The name is the monitoring run's own
 * (drift-<model>-<time>), so a retried invocation of the same tick asks for the same execution:
 * Step Functions answers ExecutionAlreadyExists, and that run is the one this tick started.
 */
export class StepFunctionsRetrainStarter implements RetrainStarter {
  constructor(
    private readonly client: Pick<SFNClient, 'send'>,
    private readonly stateMachineArn: string,
  ) {}

  async start(model: string, reportKey: string, executionName: string): Promise<{ started: boolean }> {
    // The state machine adds `execution` ($$.Execution.Name) itself.
    const input: Omit<ExecutionInput, 'execution'> = { model, trigger: 'drift', reportKey };
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: executionName,
          input: JSON.stringify(input),
        }),
      );
      return { started: true };
    } catch (error) {
      if (error instanceof Error && error.name === 'ExecutionAlreadyExists') return { started: true };
      throw error;
    }
  }
}
