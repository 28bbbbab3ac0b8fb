import { ECS_RUN_TASK_SYNC } from '../../local/managed-task';
import type { TaskHandler } from '../../local/state-machine';

/**
 * For suites that bind the synthesised retraining definition's Tasks themselves and whose data
 * fits one training function: the managed training task (ECS RunTask) must not start, and fails
 * the run loudly if it does. test/e2e/managed-training.test.ts runs the real one.
 */
export const NO_MANAGED_TRAINING: Readonly<Record<string, TaskHandler>> = {
  [ECS_RUN_TASK_SYNC]: async () => {
    throw new Error('this suite expects every run to train on Lambda, but the state machine started a managed task');
  },
};
