/** The default piece size: 1 MiB, as Delivery Optimization's 1 MB pieces. */
export const DEFAULT_PIECE_SIZE = 1 << 20

/** Smallest and largest piece sizes accepted (16 KiB to 16 MiB). */
export const MIN_PIECE_SIZE = 1 << 14
export const MAX_PIECE_SIZE = 1 << 24

/** Number of pieces of a file of `size` bytes; an empty file has none. */
export function pieceCount (size: number, pieceSize: number): number {
  return Math.ceil(size / pieceSize)
}

/** Byte range `[start, end)` of piece `index`. */
export function pieceRange (index: number, size: number, pieceSize: number): { start: number, end: number } {
  const start = index * pieceSize
  return { start, end: Math.min(start + pieceSize, size) }
}
