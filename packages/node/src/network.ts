import type { PeerContent, PeerNetwork, SubscribeHandlers } from '@dopt/engine'
import type { P2P } from '@dopt/p2p'

/** The engine's view of the peer network (`PeerNetwork`), over a running `@dopt/p2p` node. */
export function peerNetwork (p2p: P2P): PeerNetwork {
  return {
    findProviders: (key, options) => p2p.findProviders(key, options),
    fetchManifest: async (peerId, key, options) => await p2p.fetchManifest(peerId, key, options),
    fetchHave: async (peerId, key, options) => await p2p.fetchHave(peerId, key, options),
    fetchPiece: async (peerId, key, index, options) => await p2p.fetchPiece(peerId, key, index, options),
    provide: async (key, options) => { await p2p.provide(key, options) },
    async subscribe (peerId: string, key: string, handlers: SubscribeHandlers): Promise<PeerContent | null | 'unsupported'> {
      return await p2p.subscribe(peerId, key, handlers)
    },
    connectedPeers: () => p2p.knownPeers(),
    onPeer (listener) {
      const onConnect = (evt: CustomEvent<{ peerId: string }>): void => { listener(evt.detail.peerId) }
      p2p.addEventListener('peer:connect', onConnect)
      return () => { p2p.removeEventListener('peer:connect', onConnect) }
    },
    onSubscriber (key, listener) {
      const onSubscribe = (evt: CustomEvent<{ peerId: string, key: string }>): void => { if (evt.detail.key === key) listener(evt.detail.peerId) }
      p2p.addEventListener('subscribe', onSubscribe)
      return () => { p2p.removeEventListener('subscribe', onSubscribe) }
    }
  }
}
