/**
 * A CARTO 3 machine-to-machine login across its tokens' expiry, end to end: the real model
 * (with its token cache) and bridge, a real jupyter_server with the server extension renewing
 * the client's token at the local CARTO 3 API (tokens living 6 s there), and a real kernel whose
 * cells call CARTO with `carto_credentials.carto_auth()` before and after the first token expired,
 * with nothing re-run in between.
 */
import { Lab, Notebook } from './lab';
import { CartoApiProcess, JupyterServerProcess, waitFor } from './server';

const TOKEN_LIFETIME_S = 6;
const M2M = {
  client_id: 'alice-m2m-client-0001',
  client_secret: 'alice-m2m-demo-secret-0001'
};
const PATH = 'work/carto3-renewal.ipynb';

// Fingerprints, never tokens, leave the kernel; `_http` is the kernel's one HTTP client.
const SETUP = [
  'import hashlib, time',
  'from carto_credentials import _http, carto_auth, errors',
  'fp = lambda t: hashlib.sha256(t.encode()).hexdigest()[:12]',
  'auth = carto_auth()'
].join('\n');
const CALL_CARTO = [
  'token = auth.get_access_token()',
  'project, dw_token = auth.get_carto_dw_credentials()',
  'print(fp(token), project, len(dw_token) > 0)'
].join('\n');

let carto: CartoApiProcess;
let server: JupyterServerProcess;
let lab: Lab;
let nb: Notebook;

beforeAll(async () => {
  carto = new CartoApiProcess([
    '--m2m-token-lifetime',
    String(TOKEN_LIFETIME_S)
  ]);
  await carto.start();
  // CARTO's token endpoint (client credentials) is the local API's.
  server = new JupyterServerProcess({
    baseUrl: '/user/alice/',
    args: [
      `--CartoCredentials.oauth_url=${carto.url}`,
      `--CartoCredentials.accounts_url=${carto.url}`
    ]
  });
  await server.start();
  lab = await new Lab(
    server,
    { allowNonHttps: true, kernelAccess: 'ask' },
    { carto3: true }
  ).ready();
  const account = await lab.model.carto3Store!.addM2M({
    credentials: { api_base_url: carto.url.replace(/\/$/, ''), ...M2M },
    allow_non_https: true
  });
  await lab.model.refresh();
  await lab.model.setDefault(account.id);
  await lab.model.setGrant(PATH, 'allow');
  nb = await lab.open(PATH);
}, 60000);

afterAll(async () => {
  try {
    await lab?.dispose();
  } finally {
    await server?.stop();
    await carto?.stop();
  }
  server?.cleanup();
}, 60000);

describe('an M2M login across its token expiry', () => {
  it('cells before and after the first token expired reach CARTO, with nothing re-run', async () => {
    const first = await nb.run(
      `${SETUP}\nfirst = auth.get_access_token()\n${CALL_CARTO}`
    );
    const [firstFp, project, dwOk] = first.trim().split(' ');
    expect(project).toMatch(/\S/);
    expect(dwOk).toBe('True');

    // Past the first token's life; meanwhile the page fetched the token again (the server renews
    // an M2M token that has under 300 s left) and pushed each new one to the kernel.
    const pushesBefore = nb.pushes.length;
    const expired = Date.now() + (TOKEN_LIFETIME_S + 1) * 1000;
    await waitFor(
      () => Date.now() > expired && nb.pushes.length > pushesBefore,
      30000,
      'the first token to expire and a renewed one to be pushed'
    );

    const after = await nb.run(
      [
        CALL_CARTO,
        'try:',
        '    _http.request_json("GET", auth.get_api_base_url() + "/v3/connections/carto-dw/token", None, bearer=first)',
        '    print("OLD TOKEN ACCEPTED")',
        'except errors.AuthenticationError:',
        '    print("OLD TOKEN EXPIRED")'
      ].join('\n')
    );
    const [line, old] = after.trim().split('\n');
    const [secondFp, project2, dwOk2] = line.split(' ');
    expect(old).toBe('OLD TOKEN EXPIRED');
    expect(secondFp).not.toBe(firstFp);
    expect([project2, dwOk2]).toEqual([project, 'True']);
  });
});
