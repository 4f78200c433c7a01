import { describe, expect, it } from 'vitest'
import { ActivityOptionError, isLoopback, parseActivityAddress } from '@dopt/activity'

describe('isLoopback', () => {
  it('takes 127.0.0.0/8, ::1 in any spelling, a mapped 127.x address and localhost', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) {
      expect([h, isLoopback(h)]).toEqual([h, true])
    }
  })

  it('refuses every other address and any other name', () => {
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '::2', '::ffff:10.0.0.1', 'example.org', 'localhost.example.org', '127.0.0.1.nip.io', '']) {
      expect([h, isLoopback(h)]).toEqual([h, false])
    }
  })
})

describe('parseActivityAddress', () => {
  it('reads HOST:PORT, [IPv6]:PORT and a bare port', () => {
    expect(parseActivityAddress('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 })
    expect(parseActivityAddress('localhost:0')).toEqual({ host: 'localhost', port: 0 })
    expect(parseActivityAddress('[::1]:8080')).toEqual({ host: '::1', port: 8080 })
    expect(parseActivityAddress('9464')).toEqual({ host: '127.0.0.1', port: 9464 })
  })

  it('refuses what is not an address, naming it', () => {
    for (const bad of ['', ':80', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:http', '::1:80', 'host:-1']) {
      const err = (() => { try { parseActivityAddress(bad) } catch (e) { return e } })()
      expect(err).toBeInstanceOf(ActivityOptionError)
      expect((err as ActivityOptionError).code).toBe('INVALID_ARGUMENT')
      expect((err as ActivityOptionError).option).toBe('address')
    }
  })
})
