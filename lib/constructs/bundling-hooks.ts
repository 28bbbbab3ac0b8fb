import { join } from 'node:path';
import { shellQuote } from '../../core/shell';
import { PROJECT_ROOT } from './project-root';

/** The bundling steps' program (Node, so synth needs no bash): scripts/bundling-hook.mjs. */
const HOOK_SCRIPT = join(PROJECT_ROOT, 'scripts', 'bundling-hook.mjs');

/**
 * One argument quoted for the shell CDK runs a hook command in: `cmd /c` on Windows (double quotes;
 * a path cannot hold one there), `bash -c` elsewhere.
 */
function hookArgument(value: string, platform: NodeJS.Platform): string {
  if (platform !== 'win32') return shellQuote(value);
  if (value.includes('"'))
    throw new Error(`a bundling hook argument cannot contain a double quote on Windows: ${value}`);
  return `"${value}"`;
}

/**
 * A command hook (`commandHooks.afterBundling` and the like) that runs one step of
 * scripts/bundling-hook.mjs with the Node that runs the synth.
 */
export function bundlingHookCommand(
  step: 'keep-binary' | 'remove' | 'copy' | 'preload',
  args: readonly string[],
  platform: NodeJS.Platform = process.platform,
): string {
  const command = [process.execPath, HOOK_SCRIPT, step, ...args]
    .map((value) => hookArgument(value, platform))
    .join(' ');
  // cmd /c removes the first and the last quote of a command line that starts with one (`cmd /?`),
  // so a quoted program path needs one more pair around the whole line.
  return platform === 'win32' ? `"${command}"` : command;
}

/** Copies a folder next to the bundle (`cp -R source destination`). */
export function copyFolderCommand(source: string, destination: string): string {
  return bundlingHookCommand('copy', [source, destination]);
}

/** Deletes a file from the bundle if it is there (`rm -f`). */
export function removeFileCommand(file: string): string {
  return bundlingHookCommand('remove', [file]);
}
