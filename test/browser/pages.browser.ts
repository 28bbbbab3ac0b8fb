import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type LocalPlatform, startLocalPlatform } from '../../local/platform';

/**
 * The two pages people open, in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core): GET / builds a form from the model's schema, a submitted prediction is shown;
 * GET /dashboard draws its uPlot charts from the metrics that traffic produced. Any console error
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
    // ai4i2020 for its class display names; one algorithm keeps the seeding run short, and a lower
    // floor lets logistic regression (macro F1 ~0.7 on this imbalanced data) be served.
    const ai4i = JSON.parse(readFileSync(join(REPO, 'config/models/ai4i2020.json'), 'utf8'));
    ai4i.training.algorithms = ['lr'];
    ai4i.gate.floor = 0.5;
    writeFileSync(join(specsDir, 'ai4i2020.json'), JSON.stringify(ai4i));
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

  test('GET / shows ranges as plain decimals, links to the dashboard, names classes, and clears the answer on a switch', async () => {
    const page = await open('/');
    await page.locator('#model option', { hasText: 'ai4i2020' }).waitFor({ state: 'attached' });
    // Ranges: the decimals the float32 training range stands for, not 4.300000190734863.
    const placeholder = await page.getAttribute('[data-feature="sepal_length"]', 'placeholder');
    expect(placeholder).toMatch(/^\d+(\.\d{1,3})? to \d+(\.\d{1,3})?$/);
    expect(await page.getAttribute('#dashboard', 'href')).toBe('/dashboard');

    await page.fill('[data-feature="sepal_length"]', '5.1');
    await page.click('button[type="submit"]');
    await page.locator('#result h2').waitFor();
    await page.selectOption('#model', 'ai4i2020');
    expect(await page.textContent('#result')).toBe('');

    const placeholders = await page
      .locator('#fields input')
      .evaluateAll((inputs) => inputs.map((input) => input.getAttribute('placeholder') ?? ''));
    expect(placeholders.length).toBeGreaterThan(0);
    for (const text of placeholders) expect(text).not.toMatch(/\d\.\d{6}/);
    await page.selectOption('[data-feature="Type"]', 'L');
    for (const [feature, value] of Object.entries({
      'Air temperature [K]': '298.1',
      'Process temperature [K]': '308.6',
      'Rotational speed [rpm]': '1551',
      'Torque [Nm]': '42.8',
      'Tool wear [min]': '0',
    }))
      await page.fill(`[data-feature="${feature}"]`, value);
    await page.click('button[type="submit"]');
    await page.locator('#result h2').waitFor();
    expect(await page.textContent('#result h2')).toBe('no failure (0)');
    const classes = await page.locator('#result td:first-child').allTextContents();
    expect(classes.sort()).toEqual(['machine failure (1)', 'no failure (0)']);
    await page.screenshot({ path: join(screenshots, 'try-it-class-names.png'), fullPage: true });

    await page.click('#dashboard');
    await page.waitForURL(/\/dashboard$/);
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
    for (const chart of ['requests', 'api-latency', 'predictions', 'model-version', 'pipeline-runs', 'scores']) {
      await page
        .locator(`[data-chart="${chart}"] .uplot canvas`)
        .first()
        .waitFor({ state: 'attached', timeout: 15_000 });
    }
    await page.screenshot({ path: join(screenshots, 'dashboard.png'), fullPage: true });
    expect(Number(await page.textContent('#t-requests'))).toBeGreaterThanOrEqual(20);
    expect(Number(await page.textContent('#t-predictions'))).toBeGreaterThanOrEqual(20);
    // The headline numbers are the sums of their parts.
    const sumOf = (text: string | null) => (text ?? '').split(' + ').reduce((sum, part) => sum + parseInt(part, 10), 0);
    expect(sumOf(await page.textContent('#t-requests-detail'))).toBe(Number(await page.textContent('#t-requests')));
    expect(sumOf(await page.textContent('#t-runs-detail'))).toBe(Number(await page.textContent('#t-runs')));
    expect(await page.textContent('#t-runs-detail')).toContain('2 promoted');
    // uPlot's legend names each series; runs are coloured by what happened (promoted: green).
    expect(await page.locator('[data-chart="predictions"] .u-legend').textContent()).toContain('iris');
    const promoted = page.locator('[data-chart="pipeline-runs"] .u-legend tr', { hasText: 'iris promoted' });
    expect(
      await promoted.locator('.u-marker').evaluate((m) => m.ownerDocument.defaultView?.getComputedStyle(m).borderColor),
    ).toBe('rgb(22, 163, 74)');
    expect(await page.locator('[data-chart="scores"] .u-axis').count()).toBe(3);
    expect(await page.locator('[data-chart="drift"] .empty').textContent()).toBe('no data yet');
    await page.close();
  });

  test('no page logged an error (a Content-Security-Policy violation would)', () => {
    expect(consoleErrors).toEqual([]);
  });
});
