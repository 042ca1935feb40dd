#!/usr/bin/env python3
"""Seal a Strongroom credential with an independent HPKE implementation (pyhpke).

usage: pyhpke_seal.py PUBKEY_HEX PLAINTEXT_FILE
Prints JSON {"enc": hex, "ciphertext": hex (ciphertext || tag)} on stdout.

Suite: DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, mode base,
info "strongroom/credential/v1", empty aad (DESIGN.md).
"""
import json
import sys

from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKey

INFO = b"strongroom/credential/v1"


def main():
    pub_hex, pt_path = sys.argv[1], sys.argv[2]
    suite = CipherSuite.new(KEMId.DHKEM_P256_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM)
    pkr = suite.kem.deserialize_public_key(bytes.fromhex(pub_hex))
    enc, sender = suite.create_sender_context(pkr, info=INFO)
    ct = sender.seal(open(pt_path, "rb").read(), aad=b"")
    print(json.dumps({"enc": enc.hex(), "ciphertext": ct.hex()}))


if __name__ == "__main__":
    main()
