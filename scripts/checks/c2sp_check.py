#!/usr/bin/env python3
"""An independent C2SP signed-note / cosignature/v1 implementation (Python,
`cryptography`'s Ed25519), for the Rust cross-check in
shared-protocol/formats/tests/c2sp_python.rs.

  verify NOTE_FILE VKEY...       every VKEY (type 0x01 or 0x04) must have a
                                 valid signature line in the note; exit 1 if not
  sign NAME SEED_HEX TEXT_FILE   Ed25519 note signature (0x01); prints JSON
                                 {"vkey", "note"}
  cosign NAME SEED_HEX TIME NOTE_FILE
                                 appends a cosignature/v1 line (0x04) to a
                                 signed checkpoint; prints JSON {"vkey", "note"}
"""
import base64
import hashlib
import json
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DASH = "\u2014 "


def key_id(name: str, sig_type: int, pub: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + pub).digest()[:4]


def split_note(note: str):
    split = note.rindex("\n\n")
    text, sigs = note[: split + 1], note[split + 2 :]
    assert sigs.endswith("\n") and sigs != "\n", "malformed signature block"
    out = []
    for line in sigs[:-1].split("\n"):
        assert line.startswith(DASH), "bad signature line"
        name, b64 = line[len(DASH) :].split(" ")
        raw = base64.b64decode(b64, validate=True)
        out.append((name, raw[:4], raw[4:]))
    return text, out


def parse_vkey(vkey: str):
    name, kid, b64 = vkey.split("+", 2)  # the base64 key may hold "+"
    raw = base64.b64decode(b64, validate=True)
    sig_type, pub = raw[0], raw[1:]
    assert sig_type in (1, 4) and len(pub) == 32, "unsupported vkey"
    assert bytes.fromhex(kid) == key_id(name, sig_type, pub), "vkey ID mismatch"
    return name, bytes.fromhex(kid), sig_type, pub


def verify(note_file: str, vkeys) -> None:
    text, sigs = split_note(open(note_file, encoding="utf-8").read())
    for vkey in vkeys:
        name, kid, sig_type, pub = parse_vkey(vkey)
        lines = [s for (n, i, s) in sigs if n == name and i == kid]
        assert lines, f"no signature by {name}"
        for sig in lines:
            if sig_type == 1:
                msg = text.encode()
            else:
                assert len(sig) == 72, "cosignature length"
                (time,) = struct.unpack(">Q", sig[:8])
                assert time < 2**63
                msg = f"cosignature/v1\ntime {time}\n{text}".encode()
                sig = sig[8:]
            Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)  # raises
        print(f"ok {name}")


def signer(name: str, seed_hex: str, sig_type: int):
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    kid = key_id(name, sig_type, pub)
    vkey = f"{name}+{kid.hex()}+{base64.b64encode(bytes([sig_type]) + pub).decode()}"
    return key, kid, vkey


def line(name: str, kid: bytes, sig: bytes) -> str:
    return f"{DASH}{name} {base64.b64encode(kid + sig).decode()}\n"


def sign(name: str, seed_hex: str, text_file: str) -> None:
    text = open(text_file, encoding="utf-8").read()
    key, kid, vkey = signer(name, seed_hex, 1)
    note = text + "\n" + line(name, kid, key.sign(text.encode()))
    print(json.dumps({"vkey": vkey, "note": note}))


def cosign(name: str, seed_hex: str, time: str, note_file: str) -> None:
    note = open(note_file, encoding="utf-8").read()
    text, _ = split_note(note)
    key, kid, vkey = signer(name, seed_hex, 4)
    t = int(time)
    sig = struct.pack(">Q", t) + key.sign(f"cosignature/v1\ntime {t}\n{text}".encode())
    print(json.dumps({"vkey": vkey, "note": note + line(name, kid, sig)}))


def main() -> int:
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "verify":
        verify(args[0], args[1:])
    elif cmd == "sign":
        sign(*args)
    elif cmd == "cosign":
        cosign(*args)
    else:
        raise SystemExit(f"unknown command {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
