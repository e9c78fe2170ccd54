#!/usr/bin/env python3
"""Independent DSSE implementation for imprint's interop test (tests/it/dsse_interop.rs).

Uses the `securesystemslib` package (pip install 'securesystemslib[crypto]'), whose DSSE code
(PAE, envelope JSON, signature schemes) is independent of imprint.

  dsse.py sign   --scheme S --payload-file F --envelope-out E --pub-out P [--keyid K]
      Generates a fresh key for scheme S (ecdsa-sha2-nistp256 | ed25519), signs F as an in-toto
      DSSE envelope, writes the envelope JSON to E and the public key PEM to P.
  dsse.py verify --scheme S --pub P --envelope E
      Verifies every signature of envelope E with public key P (the key is given the keyid each
      signature names, since securesystemslib matches signatures to keys by keyid and cosign
      writes keyid ""). Exit 0 and "OK <payloadType>" on success, exit 1 and "FAILED: …" if not.
"""

import argparse
import json
import sys

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

IN_TOTO = "application/vnd.in-toto+json"


def sign(args: argparse.Namespace) -> int:
    if args.scheme == "ed25519":
        private_key = ed25519.Ed25519PrivateKey.generate()
    elif args.scheme == "ecdsa-sha2-nistp256":
        private_key = ec.generate_private_key(ec.SECP256R1())
    else:
        print(f"unsupported scheme {args.scheme}", file=sys.stderr)
        return 2
    public = SSlibKey.from_crypto(private_key.public_key(), keyid=args.keyid, scheme=args.scheme)
    signer = CryptoSigner(private_key, public)
    with open(args.payload_file, "rb") as f:
        payload = f.read()
    env = Envelope(payload=payload, payload_type=IN_TOTO, signatures={})
    env.sign(signer)
    with open(args.envelope_out, "w") as f:
        json.dump(env.to_dict(), f)
    with open(args.pub_out, "w") as f:
        f.write(
            private_key.public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
    return 0


def verify(args: argparse.Namespace) -> int:
    with open(args.envelope, "rb") as f:
        env = Envelope.from_dict(json.load(f))
    with open(args.pub, "rb") as f:
        crypto_key = load_pem_public_key(f.read())
    keyids = {sig.keyid for sig in env.signatures.values()}
    template = SSlibKey.from_crypto(crypto_key, scheme=args.scheme)
    # from_crypto replaces an empty keyid with a computed one; build the key with the exact id.
    keys = [SSlibKey(k, template.keytype, template.scheme, template.keyval) for k in keyids]
    try:
        env.verify(keys, 1)
    except VerificationError as e:
        print(f"FAILED: {e}")
        return 1
    print(f"OK {env.payload_type}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sign")
    s.add_argument("--scheme", required=True)
    s.add_argument("--payload-file", required=True)
    s.add_argument("--envelope-out", required=True)
    s.add_argument("--pub-out", required=True)
    s.add_argument("--keyid", default="securesystemslib-test")
    v = sub.add_parser("verify")
    v.add_argument("--scheme", required=True)
    v.add_argument("--pub", required=True)
    v.add_argument("--envelope", required=True)
    args = p.parse_args()
    return sign(args) if args.cmd == "sign" else verify(args)


if __name__ == "__main__":
    sys.exit(main())
