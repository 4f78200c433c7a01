// Stream multiplexing: libp2p's yamux, with the window-update policy of the yamux specification's reference
// implementation (hashicorp/yamux, go-yamux) instead of @chainsafe/libp2p-yamux's.
//
// @chainsafe/libp2p-yamux answers every data frame it receives with a window-update frame. On a bulk stream that is
// ~2,000 extra messages per GiB each way, and every one of them costs a noise encryption, a socket write, a
// decryption and an event on the other side: about a tenth of the CPU of a piece transfer (benchmarks/peer). Here a
// receiver sends its update once at least half of its receive window has been used, as the reference does. The
// frames on the wire are unchanged (only fewer), so dopt nodes talk to any yamux peer either way.
//
// The policy is applied per stream, to the muxer's own stream objects; if a yamux release moves the internals it
// relies on (internals.ts), streams keep yamux's own policy.
import { yamux } from '@chainsafe/libp2p-yamux'
import { StreamState } from '@chainsafe/libp2p-yamux/stream'
import { onYamuxStream } from './internals.js'
import type { YamuxStreamWindow } from './internals.js'
import type { YamuxMuxerInit } from '@chainsafe/libp2p-yamux'
import type { StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'

/** yamux, sending window updates at half-window (see the file comment). Drop-in for `yamux()` in `streamMuxers`. */
export function doptYamux (init: YamuxMuxerInit = {}): () => StreamMuxerFactory {
  const factory = yamux(init)
  return () => {
    const inner = factory()
    const create = inner.createStreamMuxer.bind(inner)
    inner.createStreamMuxer = (maConn) => halfWindowUpdates(create(maConn))
    return inner
  }
}

/** Makes every stream `muxer` creates from now on send window updates at half-window. Returns `muxer`. */
export function halfWindowUpdates<M extends StreamMuxer> (muxer: M): M {
  onYamuxStream(muxer, (stream) => {
    const yamuxUpdate = stream.sendWindowUpdate
    stream.sendWindowUpdate = function (this: YamuxStreamWindow): void {
      // Yamux's own call decides everything else: the flags of a stream being opened or accepted, a paused
      // stream, growing the window. It is only skipped while more than half of the window is still open.
      if (this.state === StreamState.Established && this.recvWindow - this.recvWindowCapacity < this.recvWindow / 2) return
      yamuxUpdate.call(this)
    }
  })
  return muxer
}
