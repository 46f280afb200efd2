// Accessibility measured with axe-core (issue 12 item 6): the CARTO sidebar panel empty, after a
// failed login (its error alert) and signed in, the notebook toolbar's account selector, a map
// widget's error status, the access (grant) dialog and the status bar item of the notebook denied
// access, each in JupyterLab Light and JupyterLab Dark, against the WCAG 2.1 A and AA rules:
// 0 violations.
// Only our own UI is scanned (`include`), not the rest of JupyterLab.
import AxeBuilder from '@axe-core/playwright';
import { galata, IJupyterLabPageFixture } from '@jupyterlab/galata';

import {
  DEMO_USERS,
  FORM,
  PANEL,
  api,
  emptyStore,
  expect,
  logInFromPanel,
  newNotebook,
  openCartoPanel,
  openNotebook,
  runCode,
  setTheme,
  test,
  uploadNotebook
} from './carto';

const WCAG_21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const THEMES = ['JupyterLab Light', 'JupyterLab Dark'] as const;

// Galata's in-memory settings, with ours: plain-http accounts on the local CARTO API.
test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    'jupyterlab-carto-credentials:plugin': {
      allowNonHttps: true,
      baseUrlTemplate: api.userUrl('{username}')
    }
  }
});

/**
 * Run axe on `selector` and soft-assert no violation, listing each one (rule, impact, summary,
 * and every element with axe's explanation) so a failure says what to fix.
 */
async function expectNoViolations(
  page: IJupyterLabPageFixture,
  selector: string,
  what: string
): Promise<void> {
  await expect(page.locator(selector).first()).toBeVisible();
  // JupyterLab's <body> is 0 px high (its shell is positioned in #main) and overflow: hidden,
  // which axe takes for an ancestor clipping every element in normal flow: it would skip
  // color-contrast for all our text and pass. Give the body the viewport's height for the scan.
  await page.evaluate(() => {
    document.body.style.height = '100vh';
  });
  const { violations, passes } = await new AxeBuilder({ page })
    .include(selector)
    .withTags(WCAG_21_AA)
    .analyze();
  await page.evaluate(() => {
    document.body.style.height = '';
  });
  const found = violations.flatMap(violation =>
    violation.nodes.map(
      node =>
        `${violation.id} (${violation.impact}): ${violation.help} at ` +
        `${node.target.join(' ')}: ${node.failureSummary}`
    )
  );
  expect.soft(found, `axe-core violations in ${what}`).toEqual([]);
  // A pass must not mean "nothing measured": the contrast of some text was really computed.
  const measured = (
    passes.find(rule => rule.id === 'color-contrast')?.nodes ?? []
  ).filter(node =>
    node.any.every(
      check => (check.data as { messageKey?: string })?.messageKey !== 'hidden'
    )
  );
  expect
    .soft(measured.length, `text whose contrast axe measured in ${what}`)
    .toBeGreaterThan(0);
}

// Before the page loads, so the panel starts from an empty store whatever ran before.
test.beforeEach(async ({ request }) => {
  await emptyStore(request);
});

for (const theme of THEMES) {
  test(`has no WCAG 2.1 AA violation in ${theme}`, async ({
    page,
    tmpPath
  }) => {
    test.slow();
    await setTheme(page, theme);
    await openCartoPanel(page);

    await test.step('the empty panel', async () => {
      await expect(
        page.locator(`${PANEL} .jp-CartoCredentials-empty`)
      ).toBeVisible();
      await expectNoViolations(page, PANEL, `the empty panel (${theme})`);
    });

    await test.step('the panel after a failed login', async () => {
      await logInFromPanel(page, 'alice', 'not-the-right-key');
      await expect(
        page.locator(`${FORM} .jp-CartoCredentials-error`)
      ).toBeVisible();
      await expectNoViolations(page, PANEL, `the error alert (${theme})`);
    });

    await test.step('the signed-in panel, with a second, public account', async () => {
      await logInFromPanel(page, 'alice', DEMO_USERS.alice);
      await expect(
        page.locator(`${PANEL} .jp-CartoCredentials-signedIn`)
      ).toBeVisible();
      await logInFromPanel(page, 'bob', '', { publicOnly: true });
      await expect(
        page.locator(`${PANEL} .jp-CartoCredentials-account`)
      ).toHaveCount(2);
      await expect(
        page.locator(`${PANEL} .jp-CartoCredentials-badge`)
      ).toContainText(['Default', 'Public data only']);
      await expectNoViolations(page, PANEL, `the signed-in panel (${theme})`);
    });

    await test.step("the notebook toolbar's account selector", async () => {
      await newNotebook(page, tmpPath);
      await expectNoViolations(
        page,
        '.jp-CartoCredentials-notebookAccount',
        `the toolbar selector (${theme})`
      );
    });

    await test.step('a map whose layer failed, with its error status', async () => {
      await runCode(
        page,
        'from carto_credentials import Layer, Map\nMap(Layer("SELECT no_such_column FROM stores"))'
      );
      const error = page.locator('.jp-CartoMap-status.jp-mod-error');
      await expect(error).toContainText('no_such_column', { timeout: 60000 });
      await expectNoViolations(
        page,
        '.jp-CartoMap-status',
        `a map's error status (${theme})`
      );
    });

    await test.step('the access dialog', async () => {
      const notebookPath = `${tmpPath}/from-elsewhere.ipynb`;
      await uploadNotebook(page, notebookPath);
      await openNotebook(page, notebookPath);
      const dialog = page.locator('.jp-Dialog');
      await expect(dialog).toContainText(/from-elsewhere\.ipynb/);
      await expectNoViolations(
        page,
        '.jp-Dialog-content',
        `the access dialog (${theme})`
      );
      await dialog.getByRole('button', { name: 'Deny' }).click();
      await expect(dialog).toHaveCount(0);
    });

    await test.step('the status bar item of a notebook denied access', async () => {
      const status = page.locator('.jp-CartoCredentials-status');
      await expect(status).toHaveClass(/jp-mod-not_granted/);
      await expectNoViolations(
        page,
        '.jp-CartoCredentials-status',
        `the status bar item (${theme})`
      );
    });
  });
}
