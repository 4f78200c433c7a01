// libp2p 3 and its helpers (it-queue, @libp2p/utils, yamux, ping) call Promise.withResolvers, which Node 20 lacks.
// This module must be evaluated before anything from libp2p: src/index.ts imports it first. It exports nothing.
// Node 22 and later have the API: there it defines nothing and Node's own stays (test/polyfill.test.ts). Delete this
// module once Node 20 is no longer supported (engines.node >=22).

interface Resolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

// Typed as present (lib ES2024); Node 20 has it not.
if (typeof Reflect.get(Promise, 'withResolvers') !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> (this: PromiseConstructor): Resolvers<T> {
      let resolve!: Resolvers<T>['resolve']
      let reject!: Resolvers<T>['reject']
      const promise = new this<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}

export {}
