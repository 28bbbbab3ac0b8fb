import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type LocalPlatform, startLocalPlatform } from '../../local/platform';

/**
 * The two pages people open, in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core): GET / builds a form from the model's schema, a submitted prediction is shown;
 * GET /dashboard draws its charts from the metrics that traffic produced. Any console error
 * (a Content-Security-Policy violation is one) fails the test. Screenshots go to
 * SCREENSHOTS_DIR (docs/screenshots to refresh the ones in the docs), else a temporary folder.
 */

const REPO = join(__dirname, '../..');
const CHROMIUM =
  process.env.CHROMIUM_PATH ||
  ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));

jest.setTimeout(120_000);

describe('the pages in a browser', () => {
  let dataDir: string;
  let screenshots: string;
  let platform: LocalPlatform;
  let browser: Browser;
  const consoleErrors: string[] = [];

  async function open(path: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`${path}: ${message.text()}`);
    });
    page.on('pageerror', (error) => consoleErrors.push(`${path}: ${error.message}`));
    await page.goto(`${platform.endpoints.apiUrl}${path}`);
    return page;
  }

  beforeAll(async () => {
    if (!CHROMIUM)
      throw new Error(
        "no Chromium found: install Debian's chromium (apt-get install chromium), or set CHROMIUM_PATH; .ci/run installs it",
      );
    dataDir = mkdtempSync(join(tmpdir(), 'browser-'));
    screenshots = process.env.SCREENSHOTS_DIR || join(dataDir, 'screenshots');
    mkdirSync(screenshots, { recursive: true });
    const specsDir = join(dataDir, 'specs');
    mkdirSync(specsDir);
    copyFileSync(join(REPO, 'config/models/iris.json'), join(specsDir, 'iris.json'));
    platform = await startLocalPlatform({ dataDir, port: 0, s3Port: 0, specsDir, log: () => undefined });
    await platform.seeded;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await platform?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('GET / builds the form from the model schema, and a submitted prediction is shown', async () => {
    const page = await open('/');
    await page.locator('#model option', { hasText: 'iris (version 1)' }).waitFor({ state: 'attached' });
    const values: Record<string, string> = {
      sepal_length: '6.9',
      sepal_width: '3.1',
      petal_length: '5.8',
      petal_width: '2.1',
    };
    for (const [feature, value] of Object.entries(values)) await page.fill(`[data-feature="${feature}"]`, value);
    await page.click('button[type="submit"]');
    await page.locator('#result h2').waitFor();
    expect(await page.textContent('#result h2')).toBe('Iris-virginica');
    expect(await page.textContent('#result')).toContain('iris version 1');
    expect(await page.locator('#result meter').count()).toBe(3);
    await page.screenshot({ path: join(screenshots, 'try-it.png'), fullPage: true });
    await page.close();
  });

  test('GET /dashboard draws the charts from the traffic and the seeding run', async () => {
    for (let i = 0; i < 20; i += 1) {
      await fetch(`${platform.endpoints.apiUrl}/models/iris/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          features: {
            sepal_length: 5 + i / 10,
            sepal_width: 3.4,
            petal_length: 1.5 + i / 5,
            petal_width: 0.2 + i / 10,
          },
        }),
      });
    }
    const page = await open('/dashboard');
    for (const chart of ['requests', 'api-latency', 'predictions', 'model-version', 'pipeline-runs']) {
      await page
        .locator(`[data-chart="${chart}"] svg path, [data-chart="${chart}"] svg rect`)
        .first()
        .waitFor({ state: 'attached', timeout: 15_000 });
    }
    expect(Number((await page.textContent('#t-requests'))?.replace(/\D/g, ''))).toBeGreaterThanOrEqual(20);
    expect(Number((await page.textContent('#t-predictions'))?.replace(/\D/g, ''))).toBeGreaterThanOrEqual(20);
    const predictionSeries = await page.locator('[data-chart="predictions"]').textContent();
    expect(predictionSeries).toContain('iris');
    await page.screenshot({ path: join(screenshots, 'dashboard.png'), fullPage: true });
    await page.close();
  });

  test('no page logged an error (a Content-Security-Policy violation would)', () => {
    expect(consoleErrors).toEqual([]);
  });
});
