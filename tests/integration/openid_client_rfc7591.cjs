// A third-party RFC 7591/7592 client against the gateway's public
// registration endpoint: openid-client 5 (npm; panva's certified OpenID
// Connect relying party library), installed by deploy/local/install-deps.sh
// into .cache/npm. Every answer goes through the library's own checks:
//   register  Issuer.Client.register   (201, a JSON body, client_id; Bearer
//                                       errors read from WWW-Authenticate)
//   read      Issuer.Client.fromUri    (200, the same, through the
//                                       registration_client_uri it was given)
//   update    client.requestResource PUT, its body made a Client (the
//             library's metadata checks) and read back with fromUri
//   delete    client.requestResource DELETE (204, no body), then fromUri
//             must fail with the library's OPError from WWW-Authenticate.
// Usage: node openid_client_rfc7591.cjs REGISTRATION_ENDPOINT [INITIAL_ACCESS_TOKEN]
// Prints one JSON line of what it saw; exits non-zero on the first failure.
'use strict';

const assert = require('node:assert/strict');
const { Issuer, errors } = require('openid-client');

async function main() {
  const [endpoint, initialAccessToken] = process.argv.slice(2);
  assert.ok(endpoint, 'usage: openid_client_rfc7591.cjs REGISTRATION_ENDPOINT [TOKEN]');
  const issuer = new Issuer({
    issuer: new URL(endpoint).origin,
    registration_endpoint: endpoint,
  });
  // The package exports no package.json: read the version from its file.
  const manifest = require('node:path').join(
    require('node:path').dirname(require.resolve('openid-client')), '..', 'package.json');
  const seen = { library: `openid-client ${JSON.parse(require('node:fs').readFileSync(manifest)).version}` };

  // A native public client, as an MCP connector or a CLI registers: a
  // loopback redirect URI on a port of its own, no client secret.
  const redirect = `http://127.0.0.1:${40000 + (process.pid % 20000)}/callback`;
  const client = await issuer.Client.register(
    {
      client_name: 'openid-client test',
      application_type: 'native',
      redirect_uris: [redirect],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
    initialAccessToken ? { initialAccessToken } : {},
  );
  const registered = client.metadata;
  assert.ok(registered.client_id, 'register: no client_id');
  assert.ok(registered.registration_access_token, 'register: no registration_access_token');
  assert.ok(registered.registration_client_uri, 'register: no registration_client_uri');
  assert.deepEqual(registered.redirect_uris, [redirect]);
  // The management URI must lead back to this endpoint, not to Authlete.
  assert.equal(
    registered.registration_client_uri,
    `${endpoint}/${encodeURIComponent(registered.client_id)}`,
    'registration_client_uri does not point at this endpoint',
  );
  seen.client_id = registered.client_id;
  seen.registration_client_uri = registered.registration_client_uri;

  const token = registered.registration_access_token;
  const read = await issuer.Client.fromUri(registered.registration_client_uri, token);
  assert.equal(read.client_id, registered.client_id);
  assert.equal(read.client_name, 'openid-client test');

  const update = await client.requestResource(registered.registration_client_uri, token, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({
      client_id: registered.client_id,
      client_name: 'openid-client test, renamed',
      application_type: 'native',
      redirect_uris: [redirect],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }),
  });
  assert.equal(update.statusCode, 200, `update: HTTP ${update.statusCode} ${update.body}`);
  assert.match(update.headers['content-type'], /^application\/json/);
  assert.equal(update.headers['cache-control'], 'no-store');
  const updated = new issuer.Client(JSON.parse(update.body.toString('utf8')));
  assert.equal(updated.client_id, registered.client_id);
  assert.equal(updated.client_name, 'openid-client test, renamed');
  // RFC 7592 §2.2: a new registration access token may come with the answer.
  const current = updated.registration_access_token || token;
  const reread = await issuer.Client.fromUri(registered.registration_client_uri, current);
  assert.equal(reread.client_name, 'openid-client test, renamed');

  const removed = await client.requestResource(registered.registration_client_uri, current, {
    method: 'DELETE',
  });
  assert.equal(removed.statusCode, 204, `delete: HTTP ${removed.statusCode}`);
  assert.ok(!removed.body || removed.body.length === 0, 'delete: a body on 204');
  seen.delete_status = removed.statusCode;

  try {
    await issuer.Client.fromUri(registered.registration_client_uri, current);
    assert.fail('read after delete succeeded');
  } catch (e) {
    assert.ok(e instanceof errors.OPError, `read after delete: ${e}`);
    seen.read_after_delete = { error: e.error, status: e.response && e.response.statusCode };
  }
  seen.ok = true;
  process.stdout.write(`${JSON.stringify(seen)}\n`);
}

main().catch((e) => {
  // Never the secrets: the library's error, its HTTP status, no body.
  const status = e && e.response ? ` (HTTP ${e.response.statusCode})` : '';
  process.stderr.write(`openid-client flow failed: ${e && e.message}${status}\n`);
  process.exit(1);
});
