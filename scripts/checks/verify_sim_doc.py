#!/usr/bin/env python3
"""Outside check of a Strongroom NSM-simulator attestation document.

Independent of the Rust code: Python `cryptography` + `cbor2`.

usage: verify_sim_doc.py DOC.cbor DEV_ROOT.pem [--public-key HEX] [--user-data HEX] [--nonce HEX]

Checks, printing one line per check and exiting non-zero on the first failure:
  1. untagged COSE_Sign1 array of 4; protected bstr decodes to exactly {1: -35};
     unprotected is an empty map; signature is 96 bytes (r || s)
  2. payload has exactly the nine NSM keys in NSM order, digest "SHA384",
     16 PCRs of 48 bytes, module_id starts with "sim-"
  3. ES384 signature of the leaf over Sig_structure built from the protected
     bytes AS RECEIVED (never re-encoded)
  4. chain: leaf <- cabundle[-1] <- ... <- cabundle[0]; cabundle[0] is
     byte-identical to the given dev root; each signature verifies; each
     certificate is valid at the document's timestamp; CA certs have
     basicConstraints CA=true
  5. the dev root's subject names the simulator (never AWS)
  6. optional expected public_key / user_data / nonce match
"""
import argparse
import datetime
import sys

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

NSM_KEYS = ["module_id", "digest", "timestamp", "pcrs", "certificate",
            "cabundle", "public_key", "user_data", "nonce"]


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def ok(msg):
    print(f"ok: {msg}")


def check_structure(raw):
    top = cbor2.loads(raw)
    if isinstance(top, cbor2.CBORTag):
        fail("document is tagged; NSM documents are untagged")
    if not (isinstance(top, list) and len(top) == 4):
        fail("not a 4-element COSE_Sign1 array")
    protected, unprotected, payload, signature = top
    if cbor2.loads(protected) != {1: -35} or protected != bytes.fromhex("a1013822"):
        fail(f"protected header is not {{1: -35}}: {protected.hex()}")
    if unprotected != {}:
        fail("unprotected header is not empty")
    if len(signature) != 96:
        fail(f"signature is {len(signature)} bytes, want 96")
    ok("COSE_Sign1 structure (untagged, {1:-35}, {}, 96-byte signature)")
    return protected, payload, signature


def check_payload(payload):
    doc = cbor2.loads(payload)
    if list(doc.keys()) != NSM_KEYS:
        fail(f"payload keys {list(doc.keys())} != {NSM_KEYS}")
    if doc["digest"] != "SHA384":
        fail("digest is not SHA384")
    pcrs = doc["pcrs"]
    if sorted(pcrs.keys()) != list(range(16)) or any(len(v) != 48 for v in pcrs.values()):
        fail("pcrs is not 16 entries of 48 bytes")
    if not doc["module_id"].startswith("sim-"):
        fail("module_id does not start with sim-")
    ok(f"payload keys, digest, 16x48 PCRs, module_id {doc['module_id']}")
    return doc


def verify_es384(cert, signature_raw, data):
    r = int.from_bytes(signature_raw[:48], "big")
    s = int.from_bytes(signature_raw[48:], "big")
    cert.public_key().verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA384()))


def check_signature(protected, payload, signature, leaf):
    sig_structure = cbor2.dumps(["Signature1", protected, b"", payload])
    try:
        verify_es384(leaf, signature, sig_structure)
    except Exception as exc:  # noqa: BLE001
        fail(f"ES384 signature does not verify: {exc!r}")
    ok("ES384 signature over Sig_structure from the received protected bytes")


def check_chain(doc, root_pem):
    root = x509.load_pem_x509_certificate(root_pem)
    bundle = [x509.load_der_x509_certificate(c) for c in doc["cabundle"]]
    leaf = x509.load_der_x509_certificate(doc["certificate"])
    if doc["cabundle"][0] != root.public_bytes(encoding=__import__(
            "cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER):
        fail("cabundle[0] is not the given dev root")
    at = datetime.datetime.fromtimestamp(doc["timestamp"] / 1000, tz=datetime.timezone.utc)
    chain = bundle + [leaf]
    for issuer, subject in zip(chain, chain[1:]):
        try:
            subject.verify_directly_issued_by(issuer)
        except Exception as exc:  # noqa: BLE001
            fail(f"{subject.subject.rfc4514_string()} not issued by {issuer.subject.rfc4514_string()}: {exc!r}")
    root.verify_directly_issued_by(root)
    for cert in chain:
        if not (cert.not_valid_before_utc <= at <= cert.not_valid_after_utc):
            fail(f"{cert.subject.rfc4514_string()} not valid at {at}")
        if not isinstance(cert.public_key(), ec.EllipticCurvePublicKey) or cert.public_key().curve.name != "secp384r1":
            fail("certificate key is not P-384")
    for ca in bundle:
        bc = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        if not bc.ca:
            fail("a cabundle certificate is not a CA")
    cn = root.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    if "STRONGROOM DEV SIMULATOR - NOT AWS" not in cn or "aws.nitro-enclaves" in cn:
        fail(f"dev root CN does not mark the simulator: {cn}")
    ok(f"chain of {len(chain)} to the dev root, valid at {at.isoformat()}; root CN {cn!r}")
    return leaf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("doc")
    ap.add_argument("root")
    ap.add_argument("--public-key")
    ap.add_argument("--user-data")
    ap.add_argument("--nonce")
    args = ap.parse_args()
    raw = open(args.doc, "rb").read()
    protected, payload, signature = check_structure(raw)
    doc = check_payload(payload)
    leaf = check_chain(doc, open(args.root, "rb").read())
    check_signature(protected, payload, signature, leaf)
    for field in ("public_key", "user_data", "nonce"):
        want = getattr(args, field)
        if want is not None:
            got = doc[field]
            if got is None or got.hex() != want.lower():
                fail(f"{field} mismatch")
            ok(f"{field} matches")
    print("ALL CHECKS PASSED")


if __name__ == "__main__":
    main()
