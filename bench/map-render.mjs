// Map widget benchmark: 10,000 features from the SQL API (local CARTO API, alice_grid_10k) drawn
// in headless Chromium in the real JupyterLab (`jupyter lab` of .venv, started by the browser
// tests' harness). Prints the time and its ratio to the 1.5 s bar.
// Timed from the cell's execution request to the map being drawn (loading state gone, canvas
// present), after one warm-up map so the lazily loaded widget code is already in the page.
//
//   node bench/map-render.mjs [runs=5]
import {
  DEMO_USERS,
  startCartoApi,
  writeSettings
} from '../test/e2e/carto-api.mjs';
import {
  launchBrowser,
  newNotebook,
  openLab,
  runCell,
  startLab
} from '../test/e2e/harness.mjs';

const BAR_MS = 1500;
const runs = Number(process.argv[2] ?? 5);

const api = await startCartoApi();
// The key reaches the kernel through its environment, never through the cell source.
const lab = await startLab({ env: { MAP_ALICE_KEY: DEMO_USERS.alice } });
// The local CARTO API is plain http on loopback.
writeSettings(lab, { allowNonHttps: true });
const browser = await launchBrowser();
try {
  const page = browser.page;
  await openLab(page, lab);
  await newNotebook(page);
  await runCell(
    page,
    [
      'import os',
      'from carto_credentials import Credentials',
      'from carto_credentials.widgets import Map, Layer',
      `alice = Credentials(base_url='${api.userUrl('alice')}', api_key=os.environ['MAP_ALICE_KEY'], allow_non_secure=True)`,
      "Map(Layer('alice_stores', credentials=alice))"
    ].join('\n')
  );
  await page.waitForSelector('.jp-CartoMap:not(.jp-mod-loading) canvas');
  const times = [];
  for (let i = 0; i < runs; i++) {
    const before = await page.$$eval('.jp-CartoMap', els => els.length);
    const started = Date.now();
    await runCell(page, "Map(Layer('alice_grid_10k', credentials=alice))");
    await page.waitForFunction(
      n => {
        const maps = document.querySelectorAll('.jp-CartoMap');
        const last = maps[maps.length - 1];
        return (
          maps.length > n &&
          last.getAttribute('aria-busy') === 'false' &&
          last.querySelector('canvas') !== null &&
          last.querySelector('.jp-CartoMap-status').textContent === ''
        );
      },
      before,
      { timeout: 30000, polling: 'raf' }
    );
    times.push(Date.now() - started);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(`map render, 10,000 features: runs ${times.join(', ')} ms`);
  console.log(
    `median ${median} ms; ratio to the ${BAR_MS} ms bar: ${(median / BAR_MS).toFixed(2)} (≤ 1.00 passes)`
  );
} finally {
  await browser.close();
  await lab.stop();
  await api.stop();
}
