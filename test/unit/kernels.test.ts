import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const KERNELS = join('training', 'algorithms', 'kernels');

/** Runs scripts/build-kernels.mjs --check in `root`; returns its exit code and stderr. */
function check(root: string): { code: number; stderr: string } {
  try {
    execFileSync(process.execPath, [join(root, 'scripts', 'build-kernels.mjs'), '--check'], {
      cwd: root,
      stdio: 'pipe',
    });
    return { code: 0, stderr: '' };
  } catch (error) {
    const e = error as { status: number; stderr: Buffer };
    return { code: e.status, stderr: e.stderr.toString() };
  }
}

describe('WebAssembly kernels', () => {
  it('the committed bytes are what the .wat source compiles to', () => {
    expect(check(ROOT)).toEqual({ code: 0, stderr: '' });
  });

  it('a .wat edited without rebuilding is reported as stale', () => {
    const copy = mkdtempSync(join(tmpdir(), 'kernels-'));
    cpSync(join(ROOT, 'scripts'), join(copy, 'scripts'), { recursive: true });
    cpSync(join(ROOT, KERNELS), join(copy, KERNELS), { recursive: true });
    // wabt resolves from the copy's parent chain; point it at this checkout's node_modules.
    cpSync(join(ROOT, 'node_modules', 'wabt'), join(copy, 'node_modules', 'wabt'), { recursive: true });
    const wat = join(copy, KERNELS, 'leaf-rows.wat');
    writeFileSync(wat, readFileSync(wat, 'utf8').replace('(i32.const 3)))))', '(i32.const 2)))))'));
    const result = check(copy);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('leaf-rows-wasm.ts is out of date');
  });
});
