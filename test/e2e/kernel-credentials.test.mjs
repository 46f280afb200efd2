// Stays on this harness because galata cannot run under a base URL (its file helpers call
// /api/contents without the prefix): the store's REST API below a JupyterHub-style base URL
// `/user/alice/`, and its default account reaching a new notebook's first cell there.
// Everything else about credentials reaching kernels (first cell, restart, a notebook's own
// account, the bare-kernel bootstrap, masking, leak scans of notebooks, settings and
// workspaces) is in ui-tests/tests/kernel-credentials.spec.ts, run with galata.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  DEMO_USERS,
  accountStoreFile,
  callStore,
  filesContaining
} from './carto-api.mjs';
import { newNotebook, openLab, runCell, startSession } from './harness.mjs';

const WHO =
  'from carto_credentials import get_default_credentials\nprint(get_default_credentials().username)';

describe(
  'credentials reach the kernel under a base URL',
  { timeout: 240000 },
  () => {
    let session;
    let api;
    let lab;
    let page;

    before(async () => {
      session = await startSession({ lab: { baseUrl: '/user/alice/' } });
      ({ api, lab, page } = session);
    });

    after(() => session?.stop());

    it('stores accounts below /user/alice/ and gives a new notebook the default in its first cell', async () => {
      for (const [name, key] of Object.entries(DEMO_USERS)) {
        const created = await callStore(page, 'POST', 'accounts', {
          base_url: api.userUrl(name),
          api_key: key,
          validate: true,
          allow_non_https: true
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        if (name === 'alice') {
          const made = await callStore(page, 'PUT', 'default', {
            account_id: created.body.id
          });
          assert.equal(made.status, 200);
        }
      }
      // The page loaded before the accounts existed: reload, as a user would after logging in.
      await openLab(page, lab);
      await newNotebook(page);
      assert.equal((await runCell(page, WHO)).trim(), 'alice');
      for (const key of Object.values(DEMO_USERS)) {
        assert.deepEqual(filesContaining(lab.dirs.root, key), [
          accountStoreFile(lab)
        ]);
      }
    });
  }
);
