// Outsider verification of a group attestation in the page, with WebCrypto only: the
// group key PK_G and the attestation, nothing from the node. Recomputes
// signedMessageHash = SHA-256("quorate/attested-proposal/v1\0" ‖ groupId ‖ epoch ‖
// proposalId ‖ issuedAt) and checks the Ed25519 signature over
// "quorate/group-attestation/v1\0" ‖ hash (RFC 8032, as OpenSSL and ed25519-dalek do).
const enc = new TextEncoder();
const HASH_TAG = enc.encode("quorate/attested-proposal/v1\0");
const SIGN_TAG = enc.encode("quorate/group-attestation/v1\0");

const unhex = (h) => new Uint8Array((h.match(/../g) ?? []).map((b) => parseInt(b, 16)));
const tohex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function u64be(n) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

/** The bytes of a CIDv1 string (multibase `b`: RFC 4648 base32, lower case, no padding). */
function cidBytes(cid) {
  if (!cid.startsWith("b")) throw new Error(`not a base32 CID: ${cid}`);
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of cid.slice(1)) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  return new Uint8Array(out);
}

/** `{ ok, why }`: whether `attestation` verifies under the group key `pkHex`. */
export async function verifyAttestation(pkHex, attestation) {
  try {
    const a = attestation;
    const fields = concat(HASH_TAG, unhex(a.group), u64be(a.epoch), cidBytes(a.proposal), u64be(a.issuedAt));
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", fields));
    if (tohex(hash) !== a.signedMessageHash) return { ok: false, why: "signedMessageHash does not match the fields" };
    const key = await crypto.subtle.importKey("raw", unhex(pkHex), { name: "Ed25519" }, false, ["verify"]);
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, unhex(a.groupSignature), concat(SIGN_TAG, hash));
    return ok ? { ok } : { ok, why: "the signature does not verify under PK_G" };
  } catch (e) {
    return { ok: false, why: String(e?.message ?? e) };
  }
}
