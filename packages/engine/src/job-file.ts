import { Bitfield, pieceCount } from '@dopt/content'
import type { FileProgress, FileInfo, JobFile, ValidationState } from '@dopt/interface'
import type { FileRecord } from '@dopt/store'
import type { LiveContent } from './live-content.js'

/** What a file needs from its job: the validation rules live in the job, which owns the state machine. */
export interface FileOwner {
  validateFile(file: JobFileImpl, valid: boolean): Promise<void>
  /** User id of the job's owner: a node running as root gives the files it writes to that user. */
  getOwner(): number
  setFileSha256(file: JobFileImpl, sha256: string): Promise<void>
}

/** Who stood behind a piece that came from a peer: whoever sent it, and the peers that vouched for its hash. */
export interface PieceSource {
  sender: string
  hash: Uint8Array
  vouchers: string[]
}

/** A file of a job, with its pieces: which are verified on disk, and which of those came from peers. */
export class JobFileImpl implements JobFile {
  record: FileRecord
  /** Verified pieces; null while the size is unknown. */
  done: Bitfield | null = null
  /** Of the verified pieces, those that came from peers. */
  fromPeer: Bitfield | null = null
  /** Bytes received for a file of unknown size (the origin sent no length). */
  streamed = 0
  /** Peers banned for this file's content: bad pieces or a forged manifest. */
  readonly bannedPeers = new Set<string>()
  /**
   * For pieces that came from peers in this process: who sent each and who vouched for it, so that a file that
   * fails its end-to-end check can tell, piece by piece against the origin, who lied. Not saved: after a restart
   * the pieces are still fetched again and compared, but nobody can be blamed.
   */
  readonly peerSources = new Map<number, PieceSource>()
  /** Hashes of the verified pieces (and of pieces dropped to be fetched again), by index; loaded at the first run. */
  hashes: Map<number, Uint8Array> | null = null
  /** This download as a source for peers, while it is one. */
  live: LiveContent | null = null
  /** Pieces from peers that the origin contradicted when they were fetched again. */
  rejectedPieces = 0
  readonly #owner: FileOwner

  /** User id of the job's owner. */
  get ownerUid (): number { return this.#owner.getOwner() }

  constructor (record: FileRecord, owner: FileOwner, pieces?: { done: Uint8Array, fromPeer: Uint8Array } | null) {
    this.record = record
    this.#owner = owner
    this.setSize(record.size, pieces ?? undefined)
    // Records from before bytes were counted: start from what the bitmaps say.
    if (record.bytesFromOrigin === undefined || record.bytesFromPeers === undefined) {
      const fromPeers = this.#bytesOf(this.fromPeer)
      record.bytesFromPeers ??= fromPeers
      record.bytesFromOrigin ??= (record.size == null ? 0 : this.#bytesOf(this.done)) - fromPeers
    }
    record.bytesUploaded ??= 0
  }

  /** Counts body bytes the origin sent for this file. */
  addOriginBytes (n: number): void {
    this.record.bytesFromOrigin = (this.record.bytesFromOrigin ?? 0) + n
  }

  /** Counts piece bytes received from peers. */
  addPeerBytes (n: number): void {
    this.record.bytesFromPeers = (this.record.bytesFromPeers ?? 0) + n
  }

  /** Counts piece bytes served to peers. */
  addUploaded (n: number): void {
    this.record.bytesUploaded = (this.record.bytesUploaded ?? 0) + n
  }

  /** (Re)creates the bitmaps for a known size, from saved bytes when given. */
  setSize (size: number | null, pieces?: { done: Uint8Array, fromPeer: Uint8Array }): void {
    this.record.size = size
    if (size == null) {
      this.done = null
      this.fromPeer = null
      return
    }
    const count = pieceCount(size, this.record.pieceSize)
    this.done = new Bitfield(count, pieces?.done)
    this.fromPeer = new Bitfield(count, pieces?.fromPeer)
  }

  get index (): number { return this.record.index }
  get remoteName (): string { return this.record.remoteName }
  get localName (): string { return this.record.localName }
  get temporaryName (): string { return this.record.temporaryName }
  get sha256 (): string | null { return this.record.sha256 }
  get pinnedManifest (): string | null { return this.record.manifestPinned ? this.record.manifestCid : null }
  get validationState (): ValidationState { return this.record.validationState }
  get isDownloadedFromPeer (): boolean { return (this.fromPeer?.count ?? 0) > 0 }

  getValidationState (): ValidationState {
    return this.record.validationState
  }

  async setValidationState (valid: boolean): Promise<void> {
    await this.#owner.validateFile(this, valid)
  }

  async setSha256 (sha256: string): Promise<void> {
    await this.#owner.setFileSha256(this, sha256)
  }

  /** Bytes covered by the set bits of `bits`, the last piece being shorter. */
  #bytesOf (bits: Bitfield | null): number {
    const size = this.record.size
    if (bits == null || size == null) return 0
    const last = bits.length - 1
    const lastLength = size - last * this.record.pieceSize
    return bits.get(last) ? (bits.count - 1) * this.record.pieceSize + lastLength : bits.count * this.record.pieceSize
  }

  getProgress (): FileProgress {
    const transferred = this.record.size == null ? this.streamed : this.#bytesOf(this.done)
    return {
      bytesTotal: this.record.size ?? -1,
      bytesTransferred: transferred,
      completed: this.record.completed,
      bytesFromPeers: this.record.bytesFromPeers ?? 0,
      bytesFromOrigin: this.record.bytesFromOrigin ?? 0,
      bytesUploaded: this.record.bytesUploaded ?? 0
    }
  }

  toJSON (): FileInfo {
    const p = this.getProgress()
    return {
      index: this.index,
      remoteName: this.remoteName,
      localName: this.localName,
      temporaryName: this.temporaryName,
      bytesTotal: p.bytesTotal,
      bytesTransferred: p.bytesTransferred,
      completed: p.completed,
      bytesFromPeers: p.bytesFromPeers,
      bytesFromOrigin: p.bytesFromOrigin,
      bytesUploaded: p.bytesUploaded,
      isDownloadedFromPeer: this.isDownloadedFromPeer,
      validationState: this.validationState,
      manifestCid: this.record.manifestCid,
      sha256: this.record.sha256,
      pinnedManifest: this.pinnedManifest
    }
  }
}
