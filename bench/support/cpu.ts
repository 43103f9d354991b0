// CPU time per unit of work, read from /proc. On a shared machine the rate a server reaches follows whatever
// else runs on its core (the same server gave 31k–54k req/s in one interleaved run); the CPU time it spends per
// request or job moves far less, so every benchmark reports it next to the rate, and its ratios are the verdict.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** utime and stime are in clock ticks (USER_HZ, 100 on Linux's usual builds). */
const TICK_US = 1e6 / (Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100);

/** User + system CPU time that process `pid` (all its threads, live or ended) has used so far, in µs. */
export function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself hold spaces: state is the first,
  // utime the 12th and stime the 13th (proc(5) numbers them 14 and 15).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

export interface CpuMeter {
  /** CPU µs each process spent since the meter started, divided by `units` (requests or jobs they served). */
  perUnit(units: number): number[];
}

/** Starts counting the CPU time of `pids`; read it with `perUnit` once the work is done. */
export function cpuMeter(pids: readonly number[]): CpuMeter {
  const start = pids.map(cpuUs);
  return { perUnit: (units) => pids.map((pid, i) => (cpuUs(pid) - start[i]) / units) };
}
