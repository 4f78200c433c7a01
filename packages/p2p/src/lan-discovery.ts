import { randomBytes } from 'node:crypto'
import makeMdns from 'multicast-dns'
import { peerIdFromString } from '@libp2p/peer-id'
import { isPrivate } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerInfo as Libp2pPeerInfo } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { MulticastDNS, ResponsePacket, QueryPacket } from 'multicast-dns'

export interface LanDiscoveryInit {
  /** The group's service name, e.g. `_dopt-default._udp.local`. */
  serviceTag: string
  /**
   * IPv4 address of the one interface to announce on and listen on: `127.0.0.1` keeps discovery on the machine (tests,
   * benchmarks, the lab). Every interface when absent, as mDNS on a LAN needs.
   */
  interface?: string
  /** Milliseconds between two queries. */
  interval: number
  /** This node's addresses, with /p2p/<peer id>. */
  addresses(): Multiaddr[]
  onPeer(peer: Libp2pPeerInfo): void
  /** UDP port. @default 5353 */
  port?: number
}

/**
 * Finds peers of the group on the LAN by multicast DNS, in the format libp2p's mDNS discovery uses (libp2p/specs
 * discovery/mdns.md: a PTR query for the service, answered with a PTR and TXT records `dnsaddr=<multiaddr>`), so it
 * meets nodes running @libp2p/mdns with the same service name. Unlike it, it can be kept to one interface: with
 * `interface: '127.0.0.1'` nothing leaves the machine.
 */
export class LanDiscovery {
  readonly #init: LanDiscoveryInit
  /** Names this node in answers, so that it ignores its own. */
  readonly #name = randomBytes(16).toString('hex')
  #mdns: MulticastDNS | null = null
  #timer: ReturnType<typeof setInterval> | null = null

  constructor (init: LanDiscoveryInit) {
    this.#init = init
  }

  start (): void {
    if (this.#mdns !== null) return
    const only = this.#init.interface
    this.#mdns = makeMdns({
      port: this.#init.port ?? 5353,
      // Bound to every address (multicast arrives for the group address), member of the group on `only`, and
      // sending through it.
      ...(only !== undefined ? { interface: only, bind: '0.0.0.0' } : {})
    })
    this.#mdns.on('query', this.#onQuery)
    this.#mdns.on('response', this.#onResponse)
    // Network trouble is not the node's: discovery retries at the next interval.
    this.#mdns.on('error', () => {})
    this.#mdns.on('warning', () => {})
    this.#query()
    this.#timer = setInterval(() => { this.#query() }, this.#init.interval)
    this.#timer.unref?.()
  }

  async stop (): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    const mdns = this.#mdns
    this.#mdns = null
    if (mdns === null) return
    mdns.removeListener('query', this.#onQuery)
    mdns.removeListener('response', this.#onResponse)
    await new Promise<void>(resolve => { mdns.destroy(() => { resolve() }) })
  }

  #query (): void {
    this.#mdns?.query({ questions: [{ name: this.#init.serviceTag, type: 'PTR' }] })
  }

  /** The addresses worth announcing: private ones (a LAN's), and on the loopback interface only loopback ones. */
  #announced (): Multiaddr[] {
    return this.#init.addresses().filter(addr => {
      const host = addr.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
      if (this.#init.interface === '127.0.0.1') return host?.startsWith('127.') === true
      return isPrivate(addr)
    })
  }

  readonly #onQuery = (query: QueryPacket): void => {
    const tag = this.#init.serviceTag
    if (query.questions[0]?.name !== tag) return
    const name = `${this.#name}.${tag}`
    const txt = this.#announced().map(a => `dnsaddr=${a.toString()}`).filter(d => d.length <= 255)
    if (txt.length === 0) return
    this.#mdns?.respond({
      answers: [
        { name: tag, type: 'PTR', class: 'IN', ttl: 120, data: name },
        ...txt.map(data => ({ name, type: 'TXT' as const, class: 'IN' as const, ttl: 120, data }))
      ]
    })
  }

  readonly #onResponse = (response: ResponsePacket): void => {
    const tag = this.#init.serviceTag
    const records = [...response.answers, ...(response.additionals ?? [])]
    const ptr = records.find(r => r.type === 'PTR' && r.name === tag)
    if (ptr === undefined || !('data' in ptr) || String(ptr.data).startsWith(this.#name)) return
    const texts = records.filter(r => r.type === 'TXT' && 'data' in r).flatMap(r => {
      const data = (r as { data: string | Buffer | Array<string | Buffer> }).data
      return (Array.isArray(data) ? data : [data]).map(String)
    })
    try {
      const addrs = texts.filter(t => t.startsWith('dnsaddr=')).map(t => multiaddr(t.slice('dnsaddr='.length)))
      const id = addrs[0]?.getComponents().findLast(c => c.name === 'p2p')?.value
      if (id === undefined) return
      this.#init.onPeer({ id: peerIdFromString(id), multiaddrs: addrs.map(a => a.decapsulateCode(0x01a5)) })
    } catch {
      // Not a dopt node's answer, or a malformed one.
    }
  }
}
