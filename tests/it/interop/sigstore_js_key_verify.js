#!/usr/bin/env node
// Offline verification of a key-signed Sigstore bundle with @sigstore/verify (sigstore-js), for
// tests/it/tlog_upload.rs. The harness's verify.js passes no public keys, so it cannot check a
// key bundle; this gives the key to toTrustMaterial. Run with the prepared sigstore-mock folder
// (its node_modules) as the working directory.
// usage: node sigstore_js_key_verify.js <trusted_root.json> <bundle.json> <public.pem>
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const from = (m) => require(require.resolve(m, { paths: [process.cwd()] }));
const { TrustedRoot } = from('@sigstore/protobuf-specs');
const { bundleFromJSON } = from('@sigstore/bundle');
const { toTrustMaterial, toSignedEntity, Verifier } = from('@sigstore/verify');

const [rootPath, bundlePath, keyPath] = process.argv.slice(2);
try {
  const key = crypto.createPublicKey(fs.readFileSync(keyPath));
  const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rootPath, 'utf8')));
  const trust = toTrustMaterial(root, () => ({ publicKey: key, validFor: () => true }));
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
  // A DSSE bundle: the artifact is not used.
  const entity = toSignedEntity(bundle, Buffer.alloc(0));
  new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 })
    .verify(entity, {});
  console.log('VERIFIED OK', JSON.stringify(entity.timestamps.map((t) => t.$case)));
} catch (e) {
  console.log('VERIFY FAILED:', e.code || '', e.message);
  process.exit(1);
}
