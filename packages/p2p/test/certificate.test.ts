import { X509Certificate } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { LIBP2P_EXTENSION_OID, createCertificate, readCertificate, verifyCertificate } from '../src/certificate.js'

const der = (pem: string): Buffer => Buffer.from(new X509Certificate(pem).raw)
const HOUR = 60 * 60 * 1000

describe('handshake certificates (libp2p TLS)', () => {
  it('prove the host key that made them, for Ed25519 and secp256k1 host keys', async () => {
    for (const hostKey of [await generateKeyPair('Ed25519'), await generateKeyPair('secp256k1')]) {
      const peer = peerIdFromPrivateKey(hostKey)
      const { cert } = await createCertificate(hostKey)
      expect((await verifyCertificate(der(cert))).equals(peer)).toBe(true)
      expect((await verifyCertificate(der(cert), peer)).equals(peer)).toBe(true)
    }
  })

  it('are well-formed X.509 v3 for OpenSSL: self-signed P-256, the libp2p extension critical, valid for a century', async () => {
    const { cert } = await createCertificate(await generateKeyPair('Ed25519'))
    const x509 = new X509Certificate(cert)
    expect(x509.subject).toBe('CN=libp2p')
    expect(x509.checkIssued(x509)).toBe(true)
    expect(x509.verify(x509.publicKey)).toBe(true)
    expect(x509.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
    expect(Date.parse(x509.validFrom)).toBeLessThan(Date.now())
    expect(new Date(x509.validTo).getUTCFullYear()).toBeGreaterThan(new Date().getUTCFullYear() + 98)
    const { spki, extensions } = readCertificate(x509.raw)
    expect(Buffer.from(spki).equals(x509.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true)
    expect(extensions).toEqual([expect.objectContaining({ oid: LIBP2P_EXTENSION_OID, critical: true })])
  })

  it('are refused for another peer than the one expected', async () => {
    const { cert } = await createCertificate(await generateKeyPair('Ed25519'))
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    await expect(verifyCertificate(der(cert), other)).rejects.toMatchObject({ name: 'UnexpectedPeerError' })
  })

  it('are refused when expired or not valid yet', async () => {
    const hostKey = await generateKeyPair('Ed25519')
    const expired = await createCertificate(hostKey, { notBefore: new Date(Date.now() - 3 * HOUR), notAfter: new Date(Date.now() - HOUR) })
    await expect(verifyCertificate(der(expired.cert))).rejects.toThrow(/expired/)
    const early = await createCertificate(hostKey, { notBefore: new Date(Date.now() + HOUR) })
    await expect(verifyCertificate(der(early.cert))).rejects.toThrow(/not valid yet/)
  })

  it('are refused when a validity time is malformed or out of range, read as encoded (not as OpenSSL prints it)', async () => {
    const bytes = der((await createCertificate(await generateKeyPair('Ed25519'))).cert)
    // notAfter is a GeneralizedTime a century on: YYYYMMDDHHMMSSZ.
    const at = bytes.toString('latin1').search(/\d{14}Z/)
    expect(at).toBeGreaterThan(0)
    const withNotAfter = (text: string): Buffer => {
      const copy = Buffer.from(bytes)
      copy.write(text, at, 'latin1')
      return copy
    }
    // Each is refused before the (now broken) self-signature is looked at, for what its time says.
    await expect(verifyCertificate(withNotAfter('00260101000000Z'))).rejects.toThrow(/expired/) // year 26, not 2026
    await expect(verifyCertificate(withNotAfter('21261301000000Z'))).rejects.toThrow(/out of range/) // month 13
    await expect(verifyCertificate(withNotAfter('ZZZZZZZZZZZZZZZ'))).rejects.toThrow(/cannot be parsed|malformed validity time/)
  })

  it('are refused when the extension is signed by another key than the host key it carries', async () => {
    const forged = await createCertificate(await generateKeyPair('Ed25519'), { signer: await generateKeyPair('Ed25519') })
    await expect(verifyCertificate(der(forged.cert))).rejects.toThrow(/host key signature is invalid/)
  })

  it('are refused without the libp2p extension, or with a critical extension we do not know', async () => {
    const hostKey = await generateKeyPair('Ed25519')
    const bare = await createCertificate(hostKey, { omitLibp2pExtension: true })
    await expect(verifyCertificate(der(bare.cert))).rejects.toThrow(/no libp2p public key extension/)
    const critical = await createCertificate(hostKey, { extraExtensions: [{ oid: '1.3.6.1.4.1.99999.1', critical: true, value: Buffer.of(5, 0) }] })
    await expect(verifyCertificate(der(critical.cert))).rejects.toThrow(/unknown critical extension 1.3.6.1.4.1.99999.1/)
    // The specification: unknown extensions that are not critical are ignored.
    const extra = await createCertificate(hostKey, { extraExtensions: [{ oid: '1.3.6.1.4.1.99999.2', critical: false, value: Buffer.of(5, 0) }] })
    expect((await verifyCertificate(der(extra.cert))).equals(peerIdFromPrivateKey(hostKey))).toBe(true)
  })

  it('are refused when a byte of the certificate changed, or when it is not a certificate', async () => {
    const { cert } = await createCertificate(await generateKeyPair('Ed25519'))
    const bytes = der(cert)
    const tampered = Buffer.from(bytes)
    tampered[tampered.length - 90] = (tampered[tampered.length - 90] ?? 0) ^ 0x01 // the extension, under the signature
    await expect(verifyCertificate(tampered)).rejects.toThrow(/self-signature is invalid/)
    await expect(verifyCertificate(Buffer.from('not a certificate'))).rejects.toThrow(/cannot be parsed/)
  })
})
