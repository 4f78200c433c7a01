// The certificates of the libp2p TLS handshake (libp2p/specs tls/tls.md), with node:crypto and a small DER codec.
//
// Each side presents one self-signed X.509 certificate for a throw-away ECDSA P-256 key. The certificate carries the
// libp2p Public Key Extension (OID 1.3.6.1.4.1.53594.1.1): the host's public key (libp2p protobuf) and the host
// key's signature over "libp2p-tls-handshake:" + the certificate key's SubjectPublicKeyInfo. Verifying a peer's
// certificate proves which peer ID holds the other end of the TLS session.
//
// Only what the handshake needs is encoded or decoded here; node:crypto parses the certificate (X509Certificate)
// and checks its self-signature and validity period.
import { X509Certificate, generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { InvalidCryptoExchangeError, UnexpectedPeerError } from '@libp2p/interface'
import { publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'

export const LIBP2P_EXTENSION_OID = '1.3.6.1.4.1.53594.1.1'
const SIGNATURE_PREFIX = Buffer.from('libp2p-tls-handshake:')
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2'
const COMMON_NAME = '2.5.4.3'
/** Validity as other libp2p implementations set it: from an hour ago (clock skew) to a hundred years on. */
const VALID_BEFORE_MS = 60 * 60 * 1000
const VALID_FOR_MS = 100 * 365 * 24 * 60 * 60 * 1000

// --- DER encoding -------------------------------------------------------------------------------------------------

function length (n: number): Buffer {
  if (n < 0x80) return Buffer.of(n)
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.of(0x80 | bytes.length, ...bytes)
}
const tlv = (tag: number, ...content: Uint8Array[]): Buffer => {
  const body = Buffer.concat(content)
  return Buffer.concat([Buffer.of(tag), length(body.length), body])
}
const sequence = (...content: Uint8Array[]): Buffer => tlv(0x30, ...content)
const octetString = (bytes: Uint8Array): Buffer => tlv(0x04, bytes)
const bitString = (bytes: Uint8Array): Buffer => tlv(0x03, Buffer.of(0), bytes)
const explicit = (n: number, content: Uint8Array): Buffer => tlv(0xa0 | n, content)
const TRUE = tlv(0x01, Buffer.of(0xff))
/** A non-negative INTEGER from big-endian bytes. */
const integer = (bytes: Uint8Array): Buffer => {
  let start = 0
  while (start < bytes.length - 1 && bytes[start] === 0 && ((bytes[start + 1] ?? 0) & 0x80) === 0) start++
  const trimmed = bytes.subarray(start)
  return tlv(0x02, ((trimmed[0] ?? 0) & 0x80) !== 0 ? Buffer.concat([Buffer.of(0), trimmed]) : trimmed)
}
function objectId (dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number)
  const bytes = [40 * (arcs[0] ?? 0) + (arcs[1] ?? 0)]
  for (const arc of arcs.slice(2)) {
    const base128 = [arc & 0x7f]
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift(0x80 | (v & 0x7f))
    bytes.push(...base128)
  }
  return tlv(0x06, Buffer.from(bytes))
}
/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
function time (at: Date): Buffer {
  const iso = at.toISOString() // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z'
  return at.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(digits.slice(2))) : tlv(0x18, Buffer.from(digits))
}

// --- DER decoding -------------------------------------------------------------------------------------------------

/** A DER element: its tag, where it begins (`offset`, the tag byte) and its content as [start, end). */
interface Element { tag: number, offset: number, start: number, end: number }

/** The element at `offset` of `der`; throws on anything malformed or out of bounds. */
function element (der: Uint8Array, offset: number, limit = der.length): Element {
  if (offset + 2 > limit) throw new InvalidCryptoExchangeError('certificate: truncated DER')
  const tag = der[offset] as number
  let len = der[offset + 1] as number
  let start = offset + 2
  if (len >= 0x80) {
    const count = len & 0x7f
    if (count === 0 || count > 4 || start + count > limit) throw new InvalidCryptoExchangeError('certificate: bad DER length')
    len = 0
    for (let i = 0; i < count; i++) len = len * 256 + (der[start + i] as number)
    start += count
  }
  if (start + len > limit) throw new InvalidCryptoExchangeError('certificate: DER element overruns its container')
  return { tag, offset, start, end: start + len }
}

/** The elements inside `parent`. */
function children (der: Uint8Array, parent: Element): Element[] {
  const out: Element[] = []
  for (let at = parent.start; at < parent.end;) {
    const child = element(der, at, parent.end)
    out.push(child)
    at = child.end
  }
  return out
}

function decodeObjectId (bytes: Uint8Array): string {
  if (bytes.length === 0) throw new InvalidCryptoExchangeError('certificate: empty object identifier')
  const first = bytes[0] as number
  const top = Math.min(2, Math.floor(first / 40))
  const arcs = [top, first - 40 * top]
  let value = 0
  for (const byte of bytes.subarray(1)) {
    value = value * 128 + (byte & 0x7f)
    if ((byte & 0x80) === 0) {
      arcs.push(value)
      value = 0
    }
  }
  return arcs.join('.')
}

export interface CertificateExtension { oid: string, critical: boolean, value: Uint8Array }

/**
 * A UTCTime (YYMMDDHHMMSSZ, years 1950-2049) or GeneralizedTime (YYYYMMDDHHMMSSZ) as RFC 5280 has certificates
 * write them, in ms since the epoch; anything else (other forms, month 13, ...) is refused.
 */
function decodeTime (der: Uint8Array, at: Element): number {
  const text = Buffer.from(der.subarray(at.start, at.end)).toString('latin1')
  const match = at.tag === 0x17
    ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    : at.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : null
  if (match === null) throw new InvalidCryptoExchangeError('certificate: malformed validity time')
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number]
  const fullYear = at.tag === 0x17 ? (year >= 50 ? 1900 + year : 2000 + year) : year
  const date = new Date(0)
  date.setUTCFullYear(fullYear, month - 1, day)
  date.setUTCHours(hour, minute, second, 0)
  if (date.getUTCFullYear() !== fullYear || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day ||
    date.getUTCHours() !== hour || date.getUTCMinutes() !== minute || date.getUTCSeconds() !== second) {
    throw new InvalidCryptoExchangeError('certificate: validity time out of range')
  }
  return date.getTime()
}

export interface CertificateFields {
  /** The SubjectPublicKeyInfo, exactly as encoded in the certificate. */
  spki: Uint8Array
  /** The validity period, in ms since the epoch. */
  notBefore: number
  notAfter: number
  extensions: CertificateExtension[]
}

/** What the handshake needs from a DER certificate. */
export function readCertificate (der: Uint8Array): CertificateFields {
  const certificate = element(der, 0)
  const [tbs] = children(der, certificate)
  if (tbs === undefined || tbs.tag !== 0x30) throw new InvalidCryptoExchangeError('certificate: no TBSCertificate')
  const fields = children(der, tbs)
  const base = fields[0]?.tag === 0xa0 ? 1 : 0 // version is optional (v1)
  const validity = fields[base + 3]
  const spki = fields[base + 5]
  if (validity === undefined || validity.tag !== 0x30) throw new InvalidCryptoExchangeError('certificate: no validity')
  if (spki === undefined || spki.tag !== 0x30) throw new InvalidCryptoExchangeError('certificate: no SubjectPublicKeyInfo')
  const times = children(der, validity)
  if (times.length !== 2) throw new InvalidCryptoExchangeError('certificate: malformed validity')
  const extensions: CertificateExtension[] = []
  const wrapper = fields.slice(base + 6).find(f => f.tag === 0xa3)
  if (wrapper !== undefined) {
    const [list] = children(der, wrapper)
    for (const ext of list === undefined ? [] : children(der, list)) {
      const parts = children(der, ext)
      const id = parts[0]
      const flag = parts.length === 3 ? parts[1] : undefined
      const value = parts[parts.length - 1]
      if (id?.tag !== 0x06 || value?.tag !== 0x04 || parts.length < 2 || parts.length > 3 || (flag !== undefined && flag.tag !== 0x01)) {
        throw new InvalidCryptoExchangeError('certificate: malformed extension')
      }
      extensions.push({
        oid: decodeObjectId(der.subarray(id.start, id.end)),
        critical: flag !== undefined && der[flag.start] !== 0,
        value: der.subarray(value.start, value.end)
      })
    }
  }
  return {
    spki: der.subarray(spki.offset, spki.end),
    notBefore: decodeTime(der, times[0] as Element),
    notAfter: decodeTime(der, times[1] as Element),
    extensions
  }
}

// --- The handshake certificate ------------------------------------------------------------------------------------

export interface CertificateOptions {
  /** Validity period (tests make expired or not yet valid ones). */
  notBefore?: Date
  notAfter?: Date
  /** Host key that signs the extension (tests sign with a key other than the one whose public key is carried). */
  signer?: PrivateKey
  /** Extensions added after the libp2p one (tests). */
  extraExtensions?: Array<{ oid: string, critical: boolean, value: Uint8Array }>
  /** Leave out the libp2p extension (tests). */
  omitLibp2pExtension?: boolean
}

export interface HandshakeCertificate {
  /** PEM, for `tls` options `cert` and `key`. */
  cert: string
  key: string
}

/** A self-signed certificate for a fresh P-256 key, carrying `hostKey`'s libp2p Public Key Extension. */
export async function createCertificate (hostKey: PrivateKey, options: CertificateOptions = {}): Promise<HandshakeCertificate> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const spki = publicKey.export({ type: 'spki', format: 'der' })
  const signature = await (options.signer ?? hostKey).sign(Buffer.concat([SIGNATURE_PREFIX, spki]))
  const extensions = [
    ...(options.omitLibp2pExtension === true
      ? []
      : [sequence(objectId(LIBP2P_EXTENSION_OID), TRUE,
        octetString(sequence(octetString(publicKeyToProtobuf(hostKey.publicKey)), octetString(signature))))]),
    ...(options.extraExtensions ?? []).map(e => sequence(objectId(e.oid), ...(e.critical ? [TRUE] : []), octetString(e.value)))
  ]
  const now = Date.now()
  const algorithm = sequence(objectId(ECDSA_WITH_SHA256))
  const name = sequence(tlv(0x31, sequence(objectId(COMMON_NAME), tlv(0x0c, Buffer.from('libp2p')))))
  const serial = randomBytes(16)
  serial[0] = (serial[0] as number) & 0x7f
  const tbs = sequence(
    explicit(0, integer(Buffer.of(2))), // v3
    integer(serial),
    algorithm,
    name,
    sequence(time(options.notBefore ?? new Date(now - VALID_BEFORE_MS)), time(options.notAfter ?? new Date(now + VALID_FOR_MS))),
    name,
    spki,
    ...(extensions.length > 0 ? [explicit(3, sequence(...extensions))] : [])
  )
  const der = sequence(tbs, algorithm, bitString(sign('sha256', tbs, privateKey)))
  const base64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  }
}

/**
 * The peer ID a peer's certificate (DER) proves, after every check the specification asks for: a self-signed
 * certificate inside its validity period, the libp2p extension present with a valid host-key signature over the
 * certificate's key, no critical extension we do not know, and - when `expected` is given - the peer we meant.
 * Throws InvalidCryptoExchangeError (or UnexpectedPeerError) otherwise.
 */
export async function verifyCertificate (der: Uint8Array, expected?: PeerId): Promise<PeerId> {
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(der)
  } catch (err) {
    throw new InvalidCryptoExchangeError(`certificate: cannot be parsed (${(err as Error).message})`)
  }
  // The validity period as encoded (node:crypto's printed dates can be unparseable or lose the century).
  const { spki, notBefore, notAfter, extensions } = readCertificate(der)
  const now = Date.now()
  if (notBefore > now) throw new InvalidCryptoExchangeError('certificate: not valid yet')
  if (notAfter < now) throw new InvalidCryptoExchangeError('certificate: expired')
  let selfSigned: boolean
  try {
    selfSigned = x509.verify(x509.publicKey)
  } catch (err) {
    throw new InvalidCryptoExchangeError(`certificate: unusable key (${(err as Error).message})`)
  }
  if (!selfSigned) throw new InvalidCryptoExchangeError('certificate: self-signature is invalid')
  let signedKey: Uint8Array | undefined
  for (const ext of extensions) {
    if (ext.oid === LIBP2P_EXTENSION_OID) {
      if (signedKey !== undefined) throw new InvalidCryptoExchangeError('certificate: libp2p extension twice')
      signedKey = ext.value
    } else if (ext.critical) {
      throw new InvalidCryptoExchangeError(`certificate: unknown critical extension ${ext.oid}`)
    }
  }
  if (signedKey === undefined) throw new InvalidCryptoExchangeError('certificate: no libp2p public key extension')
  const outer = element(signedKey, 0)
  const [keyField, signatureField] = outer.tag === 0x30 ? children(signedKey, outer) : []
  if (keyField?.tag !== 0x04 || signatureField?.tag !== 0x04) throw new InvalidCryptoExchangeError('certificate: malformed SignedKey')
  let hostKey
  try {
    hostKey = publicKeyFromProtobuf(signedKey.subarray(keyField.start, keyField.end))
  } catch (err) {
    throw new InvalidCryptoExchangeError(`certificate: unusable host key (${(err as Error).message})`)
  }
  const valid = await hostKey.verify(Buffer.concat([SIGNATURE_PREFIX, spki]), signedKey.subarray(signatureField.start, signatureField.end))
  if (!valid) throw new InvalidCryptoExchangeError('certificate: host key signature is invalid')
  const peer = peerIdFromPublicKey(hostKey)
  if (expected !== undefined && !peer.equals(expected)) {
    throw new UnexpectedPeerError(`certificate: peer is ${peer.toString()}, expected ${expected.toString()}`)
  }
  return peer
}
