// Verify an Open Badges credential's Data Integrity proof (eddsa-rdfc-2022) with Digital
// Bazaar's reference libraries, offline. Input: a JSON file {credential, documents,
// standards}; `documents` maps this site's URLs (issuer/controller document, key
// documents) to what the site answered for them. The document loader serves those, the
// W3C VC 2.0 / Multikey / DID contexts from their npm packages and the OB 3.0.3 context
// from the standards folder, and refuses every other URL (no network).
// Prints {"verified": bool, "error": "..."}; exit 0 if verified, 1 if not.
import {readFileSync} from 'node:fs';
import path from 'node:path';

import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';

const nodeModules = new URL('../../node_modules/', import.meta.url);
const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const contextFile = (pkg, file) =>
  JSON.parse(readFileSync(new URL(`${pkg}/${file}`, nodeModules), 'utf8'));
const contexts = {
  'https://www.w3.org/ns/credentials/v2':
    contextFile('@digitalbazaar/credentials-context', 'contexts/v2.jsonld'),
  'https://w3id.org/security/multikey/v1':
    contextFile('@digitalbazaar/multikey-context', 'contexts/multikey-v1.jsonld'),
  'https://www.w3.org/ns/did/v1': contextFile('did-context', 'contexts/did-v1.jsonld'),
  'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json':
    JSON.parse(readFileSync(path.join(input.standards, 'ob3', 'context-3.0.3.json'), 'utf8')),
};

const documentLoader = async url => {
  const document = contexts[url] ?? input.documents[url];
  if(document === undefined) {
    throw new Error(`Refused to load ${url}: not served offline.`);
  }
  return {contextUrl: null, documentUrl: url, document};
};

const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
let result;
try {
  result = await vc.verifyCredential({credential: input.credential, suite, documentLoader,
    checkStatus: async () => ({verified: true})});
} catch(e) {
  result = {verified: false, error: e};
}
const errors = [];
const collect = e => {
  if(!e) return;
  if(Array.isArray(e)) { e.forEach(collect); return; }
  errors.push((e.message || String(e)) +
    (e.details?.event ? ` ${JSON.stringify(e.details.event.details ?? e.details.event)}` : ''));
  if(e.errors) collect(e.errors);
  if(e.cause) collect(e.cause);
};
collect(result.error);
for(const r of result.results || []) collect(r.error);
process.stdout.write(JSON.stringify({verified: !!result.verified, errors}));
process.exit(result.verified ? 0 : 1);
