import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundlingHookCommand, copyFolderCommand, removeFileCommand } from '../../lib/constructs/bundling-hooks';
import { runBundlingHook } from '../helpers/bundling-hook';

describe('bundling hooks run Node, not bash builtins, so synth works on Windows too', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'bundling-hooks-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  test('every command is the synth Node running scripts/bundling-hook.mjs, quoted for bash, or for cmd on Windows', () => {
    const posix = bundlingHookCommand('copy', ["/a b/it's", '/out'], 'linux');
    expect(posix).toBe(
      `'${process.execPath}' '${join(__dirname, '..', '..', 'scripts', 'bundling-hook.mjs')}' 'copy' '/a b/it'\\''s' '/out'`,
    );
    const windows = bundlingHookCommand('remove', ['C:\\Program Files\\app\\package-lock.json'], 'win32');
    // One more pair around the line: cmd /c strips it, leaving each word quoted.
    expect(windows).toMatch(
      /^""[^"]+" "[^"]+bundling-hook\.mjs" "remove" "C:\\Program Files\\app\\package-lock\.json""$/,
    );
    expect(() => bundlingHookCommand('remove', ['a"b'], 'win32')).toThrow(/double quote on Windows: a"b/);
  });

  test('copy copies a folder with its subfolders to a new place (cp -R), even with a quote and a space in its path', async () => {
    const source = join(scratch, "models o'brien");
    mkdirSync(join(source, 'iris', 'v1'), { recursive: true });
    writeFileSync(join(source, 'iris', 'v1', 'model.onnx'), 'bytes');
    const destination = join(scratch, 'out', 'bundled-models');
    mkdirSync(join(scratch, 'out'));
    await runBundlingHook(copyFolderCommand(source, destination));
    expect(readFileSync(join(destination, 'iris', 'v1', 'model.onnx'), 'utf8')).toBe('bytes');
  });

  test('remove deletes a file and is quiet when it is not there (rm -f)', async () => {
    const lock = join(scratch, 'package-lock.json');
    writeFileSync(lock, '{}');
    await runBundlingHook(removeFileCommand(lock));
    expect(existsSync(lock)).toBe(false);
    await expect(runBundlingHook(removeFileCommand(lock))).resolves.toMatchObject({ stderr: '' });
  });

  test('copy fails the synth when the folder to copy is missing; an unknown step or a missing argument exits 2', async () => {
    await expect(
      runBundlingHook(copyFolderCommand(join(scratch, 'nothing'), join(scratch, 'x'))),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^bundling-hook copy: .*nothing/),
    });
    await expect(runBundlingHook(bundlingHookCommand('copy', ['only-one']))).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('expected one of keep-binary (2 arguments)'),
    });
  });
});
