import { connect, isIP, type Socket } from 'node:net'
import { connect as connectTls, type ConnectionOptions } from 'node:tls'

/**
 * Bytes per socket read. The socket reads into this one buffer again and again (`onread`), so body bytes reach the
 * sink with no allocation per chunk: node:http's per-chunk Buffers cost ~4x the CPU of this path. While the
 * consumer hashes, the kernel queues data; larger reads take it in fewer syscalls. Measured on 1 GiB with SHA-256
 * per MiB: 1 MiB beat 128 KiB by ~20% in wall time and halved system time; 2-4 MiB gained nothing.
 */
export const READ_BUFFER_SIZE = 1024 * 1024
/** Over TLS a read is one record's plaintext (at most 16 KiB), so a larger buffer would only sit idle. */
export const TLS_READ_BUFFER_SIZE = 64 * 1024

/** What a connection tells the exchange that uses it. */
export interface ConnectionUser {
  /** `n` bytes arrived in `buf`; returns whether the socket should keep reading. */
  onRead(buf: Buffer, n: number): boolean
  onConnect(): void
  /** The server ended the connection (or it closed). */
  onEnd(): void
  onError(err: Error): void
}

/** One TCP (or TLS) connection to an origin, used by one exchange at a time. */
export class Connection {
  readonly key: string
  readonly socket: Socket
  /** True over TLS. */
  readonly secure: boolean
  #buffer: Buffer
  #retained = false
  /** Responses begun on this connection before the current one. */
  uses = 0
  connected = false
  user: ConnectionUser | null = null
  idleTimer: ReturnType<typeof setTimeout> | null = null
  readonly #pool: ConnectionPool

  /** `tls`: null for plain TCP, else the options of a TLS connection (certificates are checked as node:https does). */
  constructor (pool: ConnectionPool, key: string, host: string, port: number, tls: ConnectionOptions | null) {
    this.#pool = pool
    this.key = key
    this.secure = tls !== null
    this.#buffer = Buffer.allocUnsafe(tls === null ? READ_BUFFER_SIZE : TLS_READ_BUFFER_SIZE)
    if (tls === null) {
      const buffer = this.#buffer
      this.socket = connect({ host, port, noDelay: true, onread: { buffer, callback: (n: number) => this.#onRead(buffer, n) } })
    } else {
      // Decrypted bytes land in a reused buffer, a record per read (Node >= 15.1 reads TLS into `onread`; @types/node
      // does not list it for tls). The buffer is given per read, by a function: over TLS a read callback that returns
      // false does not stop the records already decrypted - the rest of a TCP read comes in further callbacks, each
      // written into the buffer first - so a buffer whose bytes are still in use (retain()) is set aside for a new
      // one. SNI takes host names only.
      const onread = { buffer: this.#nextBuffer, callback: (n: number, buf: Buffer) => this.#onRead(buf, n) }
      const options: ConnectionOptions & { onread: typeof onread } = {
        ...tls, host, port, ALPNProtocols: ['http/1.1'], onread, ...(isIP(host) === 0 ? { servername: host } : {})
      }
      this.socket = connectTls(options)
    }
    this.socket.setNoDelay(true)
    // Connected once the TLS handshake is done, so the connect timeout covers it.
    this.socket.on(tls === null ? 'connect' : 'secureConnect', () => {
      this.connected = true
      this.user?.onConnect()
    })
    this.socket.on('error', (err: Error) => { this.#lost(err) })
    this.socket.on('end', () => { this.#lost(null) })
    this.socket.on('close', () => { this.#lost(null) })
  }

  /**
   * Keeps the bytes of the current read valid after its callback returns (TLS: the next read goes into another
   * buffer). Plain TCP needs nothing: a paused socket is called no more.
   */
  retain (): void {
    this.#retained = this.secure
  }

  readonly #nextBuffer = (): Buffer => {
    if (this.#retained) {
      this.#retained = false
      this.#buffer = Buffer.allocUnsafe(TLS_READ_BUFFER_SIZE)
    }
    return this.#buffer
  }

  #onRead (buffer: Buffer, n: number): boolean {
    if (this.user !== null) return this.user.onRead(buffer, n)
    // Bytes on an idle connection answer nothing we asked: it cannot be trusted with the next request.
    this.#pool.destroy(this)
    return false
  }

  #lost (err: Error | null): void {
    const user = this.user
    if (user === null) {
      this.#pool.destroy(this)
    } else if (err === null) {
      user.onEnd()
    } else {
      user.onError(err)
    }
  }
}

export interface ConnectionPoolInit {
  /** Milliseconds an idle connection is kept; 0 disables keep-alive. */
  idleTimeout: number
  /** Idle connections kept per origin (host and port). @default 8 */
  maxIdlePerOrigin?: number
}

/**
 * Idle keep-alive connections by origin. A connection comes back only after a response that was read to its exact
 * end and allows reuse; it is dropped when the server closes it, sends anything while idle, or after `idleTimeout`.
 * Idle connections do not keep the process alive.
 */
export class ConnectionPool {
  readonly #idle = new Map<string, Connection[]>()
  readonly #idleTimeout: number
  readonly #maxIdle: number

  constructor (init: ConnectionPoolInit) {
    this.#idleTimeout = init.idleTimeout
    this.#maxIdle = init.maxIdlePerOrigin ?? 8
  }

  /**
   * An idle connection to host:port (most recently used first), or a new one - over TLS when `tls` is not null;
   * `user` gets its events from now.
   */
  acquire (host: string, port: number, tls: ConnectionOptions | null, user: ConnectionUser, reuse: boolean): Connection {
    const key = `${tls === null ? 'http' : 'https'}://${host}:${port}`
    const idle = this.#idle.get(key)
    let connection = reuse ? idle?.pop() : undefined
    if (idle?.length === 0) this.#idle.delete(key)
    if (connection !== undefined) {
      if (connection.idleTimer !== null) clearTimeout(connection.idleTimer)
      connection.idleTimer = null
      connection.uses++
      connection.socket.ref()
    } else {
      connection = new Connection(this, key, host, port, tls)
    }
    connection.user = user
    return connection
  }

  /**
   * Takes a connection back after a response read to its end. `keepFor` is the server's Keep-Alive timeout hint
   * in milliseconds, if it gave one. The socket may be paused inside its read callback: reading resumes after it.
   */
  release (connection: Connection, keepFor?: number): void {
    connection.user = null
    const ms = Math.min(this.#idleTimeout, keepFor ?? Infinity)
    const idle = this.#idle.get(connection.key) ?? []
    if (ms <= 0 || idle.length >= this.#maxIdle || connection.socket.destroyed) {
      this.destroy(connection)
      return
    }
    idle.push(connection)
    this.#idle.set(connection.key, idle)
    connection.idleTimer = setTimeout(() => { this.destroy(connection) }, ms)
    connection.idleTimer.unref()
    connection.socket.unref()
    // Reading on while idle is how a close by the server (or stray bytes) is noticed. Deferred: a socket paused by
    // the read callback that released it is paused after this returns.
    queueMicrotask(() => { if (connection.user === null && !connection.socket.destroyed) connection.socket.resume() })
  }

  /** Closes a connection and forgets it. */
  destroy (connection: Connection): void {
    connection.user = null
    if (connection.idleTimer !== null) clearTimeout(connection.idleTimer)
    connection.idleTimer = null
    const idle = this.#idle.get(connection.key)
    const i = idle?.indexOf(connection) ?? -1
    if (idle !== undefined && i >= 0) {
      idle.splice(i, 1)
      if (idle.length === 0) this.#idle.delete(connection.key)
    }
    connection.socket.destroy()
  }

  /** Closes every idle connection. */
  close (): void {
    for (const idle of [...this.#idle.values()]) for (const connection of [...idle]) this.destroy(connection)
  }

  /** Idle connections, for tests and diagnostics. */
  get idleCount (): number {
    let n = 0
    for (const idle of this.#idle.values()) n += idle.length
    return n
  }
}
