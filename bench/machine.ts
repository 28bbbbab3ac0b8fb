import { cpus, totalmem } from 'node:os';

/** One line naming the machine, so numbers are read against what produced them. */
export function describeMachine(): string {
  const cpu = cpus();
  return `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB memory, Node ${process.version}, ${process.platform}/${process.arch}`;
}
