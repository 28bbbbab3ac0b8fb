// The functions' bundling steps (NodejsFunction command hooks, lib/constructs/bundling-hooks.ts), in
// Node so `cdk synth` works wherever Node does: CDK runs each hook command with `bash -c`, or with
// `cmd /c` on Windows, and this script is the only program the commands call.
//
// Usage: node scripts/bundling-hook.mjs <step> <arguments...>
//   keep-binary <binaries folder> <os/arch>   delete every onnxruntime-node <os>/<arch> folder but
//                                             this one; fail when its binding is not there
//   remove <file>                             delete a file, if it is there
//   copy <source folder> <destination>        copy a folder (recursively) to a new destination
//   preload <esbuild's project> <source> <outfile>
//                                             bundle an ES module that imports preload() from
//                                             <source> and awaits it, with that project's esbuild
// Exit status: 0 done; 1 the step failed (one line on stderr); 2 unknown step or wrong arguments.
import { cpSync, existsSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const steps = {
  'keep-binary': (root, keep) => {
    if (!existsSync(join(root, keep, 'onnxruntime_binding.node')))
      throw new Error(`onnxruntime-node has no ${keep} binary in ${root}`);
    const kept = resolve(root, keep);
    for (const os of readdirSync(root, { withFileTypes: true })) {
      if (!os.isDirectory()) continue;
      const osFolder = join(root, os.name);
      for (const arch of readdirSync(osFolder)) {
        const folder = join(osFolder, arch);
        if (resolve(folder) !== kept) rmSync(folder, { recursive: true, force: true });
      }
      if (readdirSync(osFolder).length === 0) rmdirSync(osFolder);
    }
  },
  remove: (file) => rmSync(file, { force: true }),
  copy: (source, destination) => cpSync(source, destination, { recursive: true, errorOnExist: true, force: false }),
  preload: async (project, source, outfile) => {
    const esbuild = createRequire(join(resolve(project), 'package.json'))('esbuild');
    await esbuild.build({
      stdin: {
        contents: `import { preload } from ${JSON.stringify(source)}; await preload();`,
        loader: 'ts',
        sourcefile: 'post-response-preload.ts',
        resolveDir: resolve(project),
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      logLevel: 'warning',
      outfile,
    });
  },
};

const [name, ...args] = process.argv.slice(2);
const step = steps[name];
if (!step || step.length !== args.length) {
  const usage = Object.entries(steps).map(([n, f]) => `${n} (${f.length} arguments)`);
  console.error(`bundling-hook: expected one of ${usage.join(', ')}; got ${[name, ...args].join(' ')}`);
  process.exit(2);
}
try {
  await step(...args);
} catch (error) {
  console.error(`bundling-hook ${name}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
