import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * Runs a bundling hook command the way NodejsFunction's local bundling does: `bash -c`, or
 * `cmd /c` (verbatim arguments) on Windows. Rejects with the command's stderr when it fails.
 */
export async function runBundlingHook(command: string): Promise<{ stdout: string; stderr: string }> {
  const windows = process.platform === 'win32';
  const [shell, args] = windows ? [process.env.COMSPEC ?? 'cmd', ['/c', command]] : ['bash', ['-c', command]];
  return promisify(execFile)(shell, args, { windowsVerbatimArguments: windows });
}
