#!/usr/bin/env node
// Independent interoperability check of Quorate's block golden vectors
// (mesh-proto/tests/vectors/blocks.json) against the reference JavaScript
// IPLD implementations (`multiformats` and `@ipld/dag-cbor`).
//
// For every vector:
//   * sha2-256 over the bytes -> CIDv1 (dag-cbor 0x71 / raw 0x55) must equal
//     the vector's `cid` string, and CID.parse(cid) must agree structurally.
//   * dag-cbor vectors must decode, re-encode byte-for-byte identically
//     (i.e. our encoding is canonical per the reference implementation) and
//     have the expected block envelope shape.
// Negative self-checks then make sure the checks above can actually fail.
//
// Prints `ok <name> <cid>` or `FAIL <name>: <reason>` per line; exits 1 on
// any failure.

import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import * as dagCbor from '@ipld/dag-cbor'

const here = dirname(fileURLToPath(import.meta.url))
const vectorsPath = resolve(here, '../../mesh-proto/tests/vectors/blocks.json')

const SHA2_256 = 0x12
const CODECS = {
  'dag-cbor': dagCbor.code, // 0x71
  raw: raw.code // 0x55
}
if (CODECS['dag-cbor'] !== 0x71 || CODECS.raw !== 0x55) {
  throw new Error('unexpected codec codes from reference implementation')
}

function hexToBytes (hex) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new Error(`invalid hex string (length ${hex?.length})`)
  }
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

function bytesToHex (bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

function bytesEqual (a, b) {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function firstDiff (a, b) {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return n
}

async function computeCid (codecName, bytes) {
  const code = CODECS[codecName]
  if (code === undefined) throw new Error(`unknown codec ${JSON.stringify(codecName)}`)
  const digest = await sha256.digest(bytes)
  return CID.create(1, code, digest)
}

// Returns a list of failure reasons (empty = pass) and the computed CID.
async function checkVector (v) {
  const reasons = []
  let bytes
  try {
    bytes = hexToBytes(v.hex)
  } catch (e) {
    return { reasons: [`hex: ${e.message}`] }
  }

  // --- CID from bytes ---------------------------------------------------
  let computed
  try {
    computed = await computeCid(v.codec, bytes)
  } catch (e) {
    return { reasons: [`cid computation: ${e.message}`] }
  }
  if (computed.toString() !== v.cid) {
    reasons.push(`cid mismatch: computed ${computed.toString()} expected ${v.cid}`)
  }

  // --- CID.parse of the vector's string ---------------------------------
  let parsed
  try {
    parsed = CID.parse(v.cid)
  } catch (e) {
    reasons.push(`CID.parse(${v.cid}) threw: ${e.message}`)
  }
  if (parsed) {
    if (parsed.version !== 1) reasons.push(`parsed cid version ${parsed.version}, want 1`)
    if (parsed.code !== CODECS[v.codec]) {
      reasons.push(`parsed cid codec 0x${parsed.code.toString(16)}, want 0x${CODECS[v.codec].toString(16)} (${v.codec})`)
    }
    if (parsed.multihash.code !== SHA2_256) {
      reasons.push(`parsed cid multihash 0x${parsed.multihash.code.toString(16)}, want 0x12 (sha2-256)`)
    }
    if (!bytesEqual(parsed.bytes, computed.bytes)) {
      reasons.push(`parsed cid bytes ${bytesToHex(parsed.bytes)} != computed ${bytesToHex(computed.bytes)}`)
    }
  }

  // --- dag-cbor specifics -----------------------------------------------
  if (v.codec === 'dag-cbor') {
    let decoded
    try {
      decoded = dagCbor.decode(bytes)
    } catch (e) {
      reasons.push(`dagCbor.decode threw: ${e.message}`)
    }
    if (decoded !== undefined) {
      let reencoded
      try {
        reencoded = dagCbor.encode(decoded)
      } catch (e) {
        reasons.push(`dagCbor.encode threw: ${e.message}`)
      }
      if (reencoded && !bytesEqual(reencoded, bytes)) {
        const at = firstDiff(reencoded, bytes)
        reasons.push(
          `not canonical: re-encoding differs at byte ${at} ` +
          `(original ${bytes.length} bytes, re-encoded ${reencoded.length} bytes; ` +
          `re-encoded hex ${bytesToHex(reencoded)})`
        )
      }
      reasons.push(...checkEnvelope(v, decoded))
    }
  } else if (v.kind !== undefined) {
    reasons.push(`raw vector unexpectedly has kind ${JSON.stringify(v.kind)}`)
  }

  return { reasons, computed }
}

function isPlainObject (x) {
  return x !== null && typeof x === 'object' && !Array.isArray(x) &&
    !(x instanceof Uint8Array) && CID.asCID(x) === null
}

function checkEnvelope (v, decoded) {
  const reasons = []
  if (!isPlainObject(decoded)) return [`decoded value is not a map: ${typeof decoded}`]
  const keys = Object.keys(decoded)
  for (const k of ['type', 'version', 'payload']) {
    if (!(k in decoded)) reasons.push(`missing key ${JSON.stringify(k)}`)
  }
  const extra = keys.filter((k) => !['type', 'version', 'payload', 'sig'].includes(k))
  if (extra.length) reasons.push(`unexpected keys ${JSON.stringify(extra)}`)
  if (typeof decoded.version !== 'number') {
    reasons.push(`version is ${typeof decoded.version}, want number`)
  }
  if (decoded.type !== v.kind) {
    reasons.push(`type ${JSON.stringify(decoded.type)} != vector kind ${JSON.stringify(v.kind)}`)
  }
  if (v.kind === 'file') {
    const payload = decoded.payload
    if (!isPlainObject(payload)) {
      reasons.push('file payload is not a map')
    } else if (!Array.isArray(payload.chunks)) {
      reasons.push(`payload.chunks is ${typeof payload.chunks}, want array`)
    } else {
      payload.chunks.forEach((c, i) => {
        const cid = CID.asCID(c)
        if (cid === null) reasons.push(`payload.chunks[${i}] is not a CID (tag 42 link)`)
      })
    }
  }
  return reasons
}

// --- negative self-checks ---------------------------------------------------
// Each mutates a known-good vector and expects checkVector to report failure.
// A self-check "passes" (prints ok) when the mutation IS detected.
function negativeCases (vectors) {
  const cases = []
  const cbor = vectors.find((v) => v.codec === 'dag-cbor')
  if (!cbor) return cases

  // 1. Flip one byte in the middle of a dag-cbor vector: CID must no longer match.
  {
    const bytes = hexToBytes(cbor.hex)
    const i = Math.floor(bytes.length / 2)
    bytes[i] ^= 0x01
    cases.push({
      name: `negative:flip-byte(${cbor.name}@${i})`,
      vector: { ...cbor, hex: bytesToHex(bytes) },
      mustMatch: /cid mismatch/
    })
  }

  // 2. Non-canonical integer: rewrite the trailing `version` uint (0x01) as the
  //    non-minimal 0x18 0x01. The re-encode (or strict decode) must reject it.
  {
    const bytes = hexToBytes(cbor.hex)
    const suffix = hexToBytes('6776657273696f6e') // text "version"
    const idx = indexOfSub(bytes, suffix)
    if (idx >= 0 && bytes[idx + suffix.length] <= 0x17) {
      const at = idx + suffix.length
      const mutated = new Uint8Array(bytes.length + 1)
      mutated.set(bytes.subarray(0, at), 0)
      mutated[at] = 0x18
      mutated[at + 1] = bytes[at]
      mutated.set(bytes.subarray(at + 1), at + 2)
      cases.push({
        name: `negative:non-minimal-int(${cbor.name})`,
        vector: { ...cbor, hex: bytesToHex(mutated) },
        mustMatch: /not canonical|dagCbor\.decode threw/
      })
    }
  }

  // 3. Wrong kind: the envelope check must notice the type mismatch.
  cases.push({
    name: `negative:wrong-kind(${cbor.name})`,
    vector: { ...cbor, kind: cbor.kind === 'file' ? 'text' : 'file' },
    mustMatch: /type .* != vector kind/
  })

  return cases
}

function indexOfSub (hay, needle) {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

async function main () {
  const vectors = JSON.parse(readFileSync(vectorsPath, 'utf8'))
  if (!Array.isArray(vectors) || vectors.length === 0) {
    console.log(`FAIL vectors: ${vectorsPath} is not a non-empty array`)
    process.exit(1)
  }

  let failures = 0
  const names = new Set()
  for (const v of vectors) {
    const name = v?.name ?? '<unnamed>'
    if (names.has(name)) {
      console.log(`FAIL ${name}: duplicate vector name`)
      failures++
    }
    names.add(name)
    const { reasons } = await checkVector(v)
    if (reasons.length) {
      failures++
      console.log(`FAIL ${name}: ${reasons.join('; ')}`)
    } else {
      console.log(`ok ${name} ${v.cid}`)
    }
  }

  const negatives = negativeCases(vectors)
  if (negatives.length < 2) {
    console.log('FAIL negative: could not construct negative self-checks')
    failures++
  }
  for (const n of negatives) {
    const { reasons } = await checkVector(n.vector)
    const joined = reasons.join('; ')
    if (reasons.length && n.mustMatch.test(joined)) {
      const hit = reasons.find((r) => n.mustMatch.test(r)) ?? reasons[0]
      console.log(`ok ${n.name} rejected (${hit})`)
    } else {
      failures++
      console.log(`FAIL ${n.name}: mutation not detected as expected (got: ${joined || 'no failure'})`)
    }
  }

  console.log(`${vectors.length} vectors, ${negatives.length} negative self-checks, ${failures} failure(s)`)
  process.exit(failures ? 1 : 0)
}

main().catch((e) => {
  console.log(`FAIL internal: ${e.stack || e}`)
  process.exit(1)
})
