import type { Socket } from 'node:net'

/** Writes `data` in pieces of `size` bytes, a few ms apart, so that the client sees them in separate reads. */
export async function dribble (socket: Socket, data: Buffer | string, size: number): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data
  for (let i = 0; i < bytes.length && !socket.destroyed; i += size) {
    socket.write(bytes.subarray(i, i + size))
    await new Promise(resolve => setTimeout(resolve, 2))
  }
}
