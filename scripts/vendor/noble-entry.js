// The page's fallback crypto, for browsers whose WebCrypto lacks Ed25519 (or SHA-256 outside
// a secure context): @noble/ed25519 verification with @noble/hashes SHA-512 and SHA-256,
// exposed as one global for web/static/verify.js. Built by scripts/vendor/noble.sh.
import * as ed from "@noble/ed25519";
import { sha256, sha512 } from "@noble/hashes/sha2.js";

ed.hashes.sha512 = sha512;

window.GuaranteeRegistryNoble = {
  // RFC 8032 strict (zip215: false): the same signatures OpenSSL and WebCrypto accept.
  verify: function (signature, message, publicKey) {
    try {
      return ed.verify(signature, message, publicKey, { zip215: false });
    } catch (e) {
      return false;
    }
  },
  sha256: function (bytes) {
    return sha256(bytes);
  },
};
