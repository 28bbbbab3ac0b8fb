import { Session } from 'node:inspector/promises';
import { relative } from 'node:path';

/**
 * A CPU profile of this process while `work` runs (V8's sampling profiler through the inspector),
 * summarised as the functions with the most self time: where a code path spends its CPU.
 */

export interface ProfileEntry {
  readonly fn: string;
  readonly where: string;
  readonly ms: number;
  readonly share: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
}

export async function profileCpu(
  work: () => Promise<void>,
  top = 12,
): Promise<{ readonly totalMs: number; readonly entries: ProfileEntry[] }> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    await work();
    const { profile } = (await session.post('Profiler.stop')) as unknown as {
      profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
    };
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const selfUs = new Map<string, number>();
    profile.samples.forEach((id, i) => {
      const frame = byId.get(id)?.callFrame;
      if (!frame) return;
      const file = frame.url.replace(/^file:\/\//, '');
      // File only: under tsx each module is one transpiled line, so line numbers say nothing.
      const key = `${frame.functionName || '(anonymous)'}\t${file ? relative(process.cwd(), file) : ''}`;
      selfUs.set(key, (selfUs.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
    });
    const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
    const entries = [...selfUs.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => {
        const [fn, where] = key.split('\t');
        return { fn, where, ms: us / 1000, share: totalUs > 0 ? us / totalUs : 0 };
      });
    return { totalMs: totalUs / 1000, entries };
  } finally {
    session.disconnect();
  }
}
