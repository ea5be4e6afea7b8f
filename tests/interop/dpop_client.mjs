// A DPoP client made with node's `jose` (panva), independent of jwtgate: it makes its
// key, gets an access token bound to it, and calls a jwtgate-protected server.
// Usage: node dpop_client.mjs '<json config>' -> prints one JSON line of results.
//   config: {base, path, alg, token: {kind: "hs256", secret} |
//                                     {kind: "oidc", issuer, client_id, client_secret, resource, scope}}
import crypto from "node:crypto";
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";

const config = JSON.parse(process.argv[2]);
const { publicKey, privateKey } = await generateKeyPair(config.alg, { extractable: true });
const jwk = await exportJWK(publicKey);
const jkt = await calculateJwkThumbprint(jwk);
const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const ath = (token) => b64url(crypto.createHash("sha256").update(token).digest());

async function proof(method, url, { token, nonce, iat, key = privateKey, header = {} } = {}) {
  const claims = { htm: method, htu: url, jti: crypto.randomUUID() };
  if (token) claims.ath = ath(token);
  if (nonce) claims.nonce = nonce;
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: config.alg, typ: "dpop+jwt", jwk, ...header });
  return jwt.setIssuedAt(iat).sign(key);
}

async function tokenFromOidc(source) {
  // RFC 9449 §5: a proof at the token endpoint; the provider may ask for a nonce first.
  const url = `${source.issuer}/token`;
  const body = new URLSearchParams({ grant_type: "client_credentials", scope: source.scope, resource: source.resource });
  const basic = Buffer.from(`${source.client_id}:${source.client_secret}`).toString("base64");
  let nonce;
  for (let attempt = 0; attempt < 2; attempt++) {
    const response = await fetch(url, {
      method: "POST",
      body,
      headers: { authorization: `Basic ${basic}`, dpop: await proof("POST", url, { nonce }) },
    });
    const answer = await response.json();
    if (response.ok) return answer;
    nonce = response.headers.get("dpop-nonce");
    if (!nonce) throw new Error(`token endpoint: ${JSON.stringify(answer)}`);
  }
  throw new Error("token endpoint kept asking for a nonce");
}

async function accessToken() {
  const source = config.token;
  if (source.kind === "oidc") return tokenFromOidc(source);
  const token = await new SignJWT({ cnf: { jkt } })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
    .setSubject("node-client")
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode(source.secret));
  return { access_token: token, token_type: "DPoP" };
}

const url = `${config.base}${config.path}`;
async function call(name, method, headers) {
  const response = await fetch(url, { method, headers });
  return {
    name,
    status: response.status,
    www: response.headers.get("www-authenticate"),
    nonce: response.headers.get("dpop-nonce"),
    body: await response.text(),
  };
}

// A DPoP request as a real client sends it: retried once with the server's nonce.
async function dpopCall(name, method, token, options = {}) {
  let result = await call(name, method, { authorization: `DPoP ${token}`, dpop: await proof(method, url, { token, ...options }) });
  if (result.status === 401 && result.nonce && (result.www || "").includes("use_dpop_nonce")) {
    const retry = await proof(method, url, { token, ...options, nonce: result.nonce });
    result = { ...(await call(name, method, { authorization: `DPoP ${token}`, dpop: retry })), retried: true };
  }
  return result;
}

const issued = await accessToken();
const token = issued.access_token;
const results = [await dpopCall("good", "GET", token), await dpopCall("good post", "POST", token)];
const replayed = await proof("GET", url, { token });
results.push(await call("first use", "GET", { authorization: `DPoP ${token}`, dpop: replayed }));
results.push(await call("replay", "GET", { authorization: `DPoP ${token}`, dpop: replayed }));
results.push(await call("as bearer", "GET", { authorization: `Bearer ${token}` }));
results.push(await call("wrong htm", "POST", { authorization: `DPoP ${token}`, dpop: await proof("GET", url, { token }) }));
results.push(await call("stale iat", "GET", { authorization: `DPoP ${token}`, dpop: await proof("GET", url, { token, iat: Math.floor(Date.now() / 1000) - 600 }) }));
const stranger = await generateKeyPair(config.alg, { extractable: true });
results.push(await call("other key", "GET", { authorization: `DPoP ${token}`, dpop: await proof("GET", url, { token, key: stranger.privateKey, header: { jwk: await exportJWK(stranger.publicKey) } }) }));
console.log(JSON.stringify({ jkt, token_type: issued.token_type, results }));
