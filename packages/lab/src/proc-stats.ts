import { execFileSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'

/** CPU time and peak memory of one live process, read from Linux's /proc. */
export interface ProcSample {
  /** utime + stime of /proc/<pid>/stat, seconds (its own threads; children are not counted). */
  cpuSeconds: number
  /** VmHWM of /proc/<pid>/status (peak resident set), bytes. */
  peakRss: number
}

let ticks: number | undefined

/** Clock ticks per second of /proc's times (USER_HZ: 100 on every Linux we run on; asked once of getconf). */
function clockTicks (): number {
  if (ticks === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim())
      ticks = Number.isInteger(n) && n > 0 ? n : 100
    } catch {
      ticks = 100
    }
  }
  return ticks
}

/** A sample of `pid`, or null if it is gone (or this is not Linux). */
export async function readProcSample (pid: number): Promise<ProcSample | null> {
  try {
    const [stat, status] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/status`, 'utf8')
    ])
    // The command name in parentheses may hold spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // Fields 14 and 15 of proc(5) (utime, stime) are the 12th and 13th after the name.
    const utime = Number(fields[11])
    const stime = Number(fields[12])
    const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null
    return { cpuSeconds: (utime + stime) / clockTicks(), peakRss: hwm === null ? 0 : Number(hwm[1]) * 1024 }
  } catch {
    return null
  }
}
