/**
 * The managed training task's entry point: training/container/Dockerfile bundles this file, and
 * the local platform runs it as a child process (local/managed-task.ts). See task-entry.ts.
 */
import { runTrainingTask } from './task-entry';

void runTrainingTask(process.env).then((code) => {
  process.exitCode = code;
});
