// Loopback OpenID Connect provider for Trellis integration tests.
//
// Test-only: fixed cookie keys, in-memory storage, no login UI. The user to
// log in is named by the authorization request's `login_hint` (a user's `sub`
// or `email`); consent is implied for every requested scope and claim.
//
// Environment:
//   OIDC_PORT     TCP port on 127.0.0.1; 0 (default) picks a free one.
//   OIDC_CLIENTS  JSON array of { client_id, client_secret, redirect_uris }.
//   OIDC_USERS    JSON array of { sub, email, email_verified, given_name, family_name }.
//   OIDC_DEFAULT_USER  optional: the sub (or email) signed in when a request has no login_hint
//                 (for the local demo; tests always name the user).
//
// Prints exactly one line to stdout once listening:
//   OIDC_ISSUER=http://127.0.0.1:<port>
// and runs until SIGTERM or SIGINT. Diagnostics go to stderr.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';

import Provider, { interactionPolicy } from 'oidc-provider';

// oidc-provider prints notices with console.info; keep stdout for the one
// line the test harness reads.
console.info = (...args) => console.error(...args);
console.log = (...args) => console.error(...args);

function fail(message) {
  process.stderr.write(`oidc peer: ${message}\n`);
  process.exit(2);
}

function parseJsonArray(name) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return [];
  let value;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    fail(`${name} is not valid JSON: ${err.message}`);
  }
  if (!Array.isArray(value)) fail(`${name} must be a JSON array`);
  return value;
}

const portText = process.env.OIDC_PORT ?? '0';
const port = Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail(`OIDC_PORT must be a port number, got ${JSON.stringify(portText)}`);
}

const clients = parseJsonArray('OIDC_CLIENTS').map((c, i) => {
  if (typeof c?.client_id !== 'string' || !c.client_id) fail(`OIDC_CLIENTS[${i}].client_id missing`);
  if (typeof c.client_secret !== 'string' || !c.client_secret) fail(`OIDC_CLIENTS[${i}].client_secret missing`);
  if (!Array.isArray(c.redirect_uris) || c.redirect_uris.length === 0) {
    fail(`OIDC_CLIENTS[${i}].redirect_uris must be a non-empty array`);
  }
  return {
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    // client_secret_post is accepted too: oidc-provider treats the two
    // secret-based methods as interchangeable at the token endpoint.
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  };
});

const users = parseJsonArray('OIDC_USERS').map((u, i) => {
  if (typeof u?.sub !== 'string' || !u.sub) fail(`OIDC_USERS[${i}].sub missing`);
  return u;
});
const usersBySub = new Map(users.map((u) => [u.sub, u]));

// login_hint names a user by sub, or else by email (case-insensitive).
function userForHint(hint) {
  if (typeof hint !== 'string' || hint === '') return undefined;
  const bySub = usersBySub.get(hint);
  if (bySub) return bySub;
  const lower = hint.toLowerCase();
  return users.find((u) => typeof u.email === 'string' && u.email.toLowerCase() === lower);
}

function claimsOf(user) {
  const name = [user.given_name, user.family_name].filter(Boolean).join(' ');
  return {
    sub: user.sub,
    email: user.email,
    email_verified: Boolean(user.email_verified),
    given_name: user.given_name,
    family_name: user.family_name,
    ...(name ? { name } : undefined),
  };
}

// Interaction policy: the default login and consent prompts, plus one check
// so that a login_hint which does not name the session's current user (or
// names nobody) always goes through a fresh, non-interactive login.
const policy = interactionPolicy.base();
policy.get('login').checks.add(new interactionPolicy.Check(
  'login_hint_mismatch',
  'login_hint does not name the signed-in End-User',
  'login_required',
  (ctx) => {
    const hint = ctx.oidc.params.login_hint;
    if (hint === undefined) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    const user = userForHint(hint);
    if (user && user.sub === ctx.oidc.session.accountId) {
      return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }
    return interactionPolicy.Check.REQUEST_PROMPT;
  },
));

// Auto-consent: the grant for the signed-in user always covers everything the
// request asks for, so the consent prompt never fires.
async function loadExistingGrant(ctx) {
  const { oidc } = ctx;
  const accountId = oidc.session.accountId;
  const clientId = oidc.client.clientId;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(clientId);
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!grant || grant.accountId !== accountId || grant.clientId !== clientId) {
    grant = new oidc.provider.Grant({ accountId, clientId });
  }
  const scopes = [...oidc.requestParamOIDCScopes];
  if (scopes.length) grant.addOIDCScope(scopes.join(' '));
  const claims = [...oidc.requestParamClaims];
  if (claims.length) grant.addOIDCClaims(claims);
  await grant.save();
  return grant;
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: randomUUID(),
  alg: 'RS256',
  use: 'sig',
};

const server = createServer();
let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
server.on('request', (req, res) => handler(req, res));

await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', () => {
    server.off('error', reject);
    resolve();
  });
});

const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: {
    // Test-only fixed keys.
    keys: ['trellis-oidc-peer-cookie-key-1', 'trellis-oidc-peer-cookie-key-2'],
  },
  scopes: ['openid', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name', 'name'],
  },
  // Put the scope-requested claims into the ID token, not only userinfo.
  conformIdTokenClaims: false,
  pkce: { methods: ['S256'], required: () => true },
  features: {
    devInteractions: { enabled: false },
  },
  interactions: {
    policy,
    url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  loadExistingGrant,
  // Fixed lifetimes in seconds (also keeps the defaults' notices quiet).
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    Grant: 3600,
    IdToken: 3600,
    Interaction: 600,
    Session: 3600,
  },
  async findAccount(_ctx, sub) {
    const user = usersBySub.get(sub);
    if (!user) return undefined;
    return {
      accountId: user.sub,
      async claims() {
        return claimsOf(user);
      },
    };
  },
});

provider.on('server_error', (_ctx, err) => {
  process.stderr.write(`oidc peer: server_error: ${err?.stack ?? err}\n`);
});

// Non-interactive login: GET /interaction/:uid logs in the user named by
// login_hint and resumes the authorization request at once.
const interactionPath = /^\/interaction\/([^/]+)$/;
provider.use(async (ctx, next) => {
  const match = interactionPath.exec(ctx.path);
  if (!match || ctx.method !== 'GET') return next();

  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    // Missing or expired interaction cookie: a client that did not keep the
    // provider's cookies between redirects.
    ctx.status = 400;
    ctx.body = `interaction not found: ${err.message}`;
    return undefined;
  }
  if (details.uid !== match[1]) {
    ctx.status = 400;
    ctx.body = 'interaction uid does not match its cookie';
    return undefined;
  }

  const user = userForHint(details.params.login_hint || process.env.OIDC_DEFAULT_USER);
  let result;
  if (!user) {
    result = {
      error: 'access_denied',
      error_description: 'login_hint names no known user',
    };
  } else {
    // Another user is signed in on this browser session: end that session so
    // the resume step signs in the new user instead of asking to log out.
    if (details.session?.accountId && details.session.accountId !== user.sub) {
      const old = details.session.uid
        ? await provider.Session.findByUid(details.session.uid)
        : undefined;
      if (old) await old.destroy();
      details.session = undefined;
      await details.persist();
    }
    result = { login: { accountId: user.sub, remember: true } };
  }

  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: false,
  });
  ctx.redirect(returnTo);
  ctx.status = 303;
  return undefined;
});

handler = provider.callback();

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`oidc peer: ${signal}, shutting down\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

process.stdout.write(`OIDC_ISSUER=${issuer}\n`);
