import dgram from 'node:dgram'
import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { attempts } from './setup/loopback-only.mjs'
import { expectOffMachineAttempts } from './setup/vitest.js'

describe('the tests\' network guard (test/setup/loopback-only.mjs)', () => {
  it('refuses UDP and TCP to addresses off the machine, and multicast off the loopback interface', async () => {
    const socket = dgram.createSocket('udp4')
    const sent = async (port: number, address: string): Promise<Error | null> =>
      await new Promise(resolve => { socket.send('x', port, address, err => { resolve(err ?? null) }) })
    const before = attempts().length
    try {
      expect(await sent(9, '192.0.2.1')).toMatchObject({ name: 'OffMachineError', message: expect.stringMatching(/tests stay on 127.0.0.0\/8/) })
      expect(await sent(5353, '224.0.0.251')).toMatchObject({ message: expect.stringMatching(/on every interface/) })
      await new Promise<void>(resolve => socket.bind(0, '0.0.0.0', resolve))
      expect(() => { socket.addMembership('224.0.0.251') }).toThrow(/every interface/)
      socket.setMulticastInterface('127.0.0.1')
      expect(await sent(9, '224.0.0.251')).toBeNull()
      expect(await sent(9, '127.0.0.1')).toBeNull()
    } finally {
      socket.close()
    }
    expect(() => net.connect(80, '192.0.2.1')).toThrow(/tests stay on 127.0.0.0\/8/)
    expect(attempts().length - before).toBe(4)
    expectOffMachineAttempts(4)
    const local = net.connect(1, '127.0.0.1')
    local.on('error', () => {})
    local.destroy()
  })
})
