// A real OpenID provider (panva/oidc-provider) on 127.0.0.1 for jwtgate's interop tests.
// Usage: node oidc_provider.mjs PORT  -> prints "ready <issuer>" once listening.
import crypto from "node:crypto";
import Provider from "oidc-provider";

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "reports-service",
      client_secret: "not-a-real-secret-only-for-the-interop-test",
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
    },
  ],
  features: {
    clientCredentials: { enabled: true },
    dPoP: { enabled: true }, // a token request with a DPoP proof gets a bound token (cnf.jkt)
    resourceIndicators: {
      enabled: true,
      defaultResource: () => "https://api.example",
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: "read write",
        audience: "https://api.example",
        accessTokenFormat: "jwt",
        accessTokenTTL: 300,
        jwt: { sign: { alg: process.env.ALG || "ES256" } },
      }),
    },
  },
  jwks: { keys: [{ ...ec, kid: "ec-1", use: "sig", alg: "ES256" }, { ...rsa, kid: "rsa-1", use: "sig", alg: "RS256" }] },
});
provider.proxy = false;
provider.listen(port, "127.0.0.1", () => console.log(`ready ${issuer}`));
