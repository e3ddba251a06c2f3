// Headless Chromium for the report tests (Debian's /usr/bin/chromium driven by playwright-core; .ci/run installs it):
// one persistent context per test file, pages opened from file:// with every console error or warning, page error
// and request off file:// collected as a problem, and the state of every ECharts container in the page.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { projectRoot } from '../../temporal/project-root';

// The page functions below run in the browser; the project compiles without DOM types, so these stand in for them.
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const window: any;
declare const document: any;

const CHROMIUM = '/usr/bin/chromium';
export const OUT = path.join(projectRoot(), 'test-output', 'report');

export interface Opened {
  page: Page;
  problems: string[];
}

export interface ChartState {
  id: string;
  kind: string;
  instance: boolean;
  canvas: { w: number; h: number } | null;
  points: number;
  filled: number;
  colours: number;
}

/** Registers before/after hooks that launch Chromium and close it; `open` writes HTML to OUT and opens it. */
export function chromiumPages(): { open(html: string, name: string): Promise<Opened> } {
  let context: BrowserContext;
  let userDataDir: string;
  before(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get update && apt-get install -y chromium); .ci/run does this`);
    }
    fs.mkdirSync(OUT, { recursive: true });
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1360, height: 900 },
      deviceScaleFactor: 1,
    });
  });
  after(async () => {
    await context?.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  });
  return {
    /** Writes the HTML to a file and opens it; console errors/warnings, page errors and any request off file:// are problems. */
    async open(html: string, name: string): Promise<Opened> {
      const file = path.join(OUT, `${name}.html`);
      fs.writeFileSync(file, html);
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      await page.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith('file://') || url.startsWith('data:')) return route.continue();
        problems.push(`network request: ${url}`);
        return route.abort();
      });
      await page.goto(`file://${file}`);
      await page.waitForFunction(() => window.__plasticityReport?.ready === true, undefined, { timeout: 30_000 });
      return { page, problems };
    },
  };
}

/** Per chart container: the ECharts instance, its canvas size, its first series' data count, and how many colours it drew. */
export async function chartStates(page: Page): Promise<ChartState[]> {
  return page.evaluate((): ChartState[] => {
    return [...document.querySelectorAll('[data-chart]')].map((el: any) => {
      const inst = window.echarts.getInstanceByDom(el);
      const canvas = el.querySelector('canvas');
      const data = inst ? (inst.getOption().series[0].data as unknown[]) : [];
      const filled = data.filter((p) => Array.isArray(p) && p[2] !== '-' && p[2] !== null && p[2] !== undefined).length;
      let colours = 0;
      if (canvas && canvas.width > 0 && canvas.height > 0) {
        const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        const seen = new Set<number>();
        for (let i = 0; i < px.length; i += 4 * 7) if (px[i + 3] > 0) seen.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
        colours = seen.size;
      }
      return {
        id: el.id,
        kind: el.getAttribute('data-chart') ?? '',
        instance: !!inst,
        canvas: canvas ? { w: canvas.width, h: canvas.height } : null,
        points: data.length,
        filled,
        colours,
      };
    });
  });
}
