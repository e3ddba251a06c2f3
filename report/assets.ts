// What every report inlines: ECharts' minified browser bundle (from node_modules), the page script (report/client.ts,
// compiled beside this file) and the stylesheet (report/report.css, read from the project's report/ folder, which
// `tsc` does not copy into dist/). Read once per process.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../temporal/project-root';

export interface InlineScript {
  code: string;
  /** e.g. 'echarts 6.1.0' */
  name: string;
}

let echartsCache: InlineScript | undefined;
let clientCache: string | undefined;
let cssCache: string | undefined;

/** ECharts' full minified bundle (heatmap, graph, line, bar), safe to place in a <script> element. */
export function echartsScript(): InlineScript {
  if (echartsCache) return echartsCache;
  let file: string;
  try {
    file = require.resolve('echarts/dist/echarts.min.js');
  } catch {
    throw new Error("report: cannot find echarts/dist/echarts.min.js; install the 'echarts' package (npm install)");
  }
  const version = (JSON.parse(fs.readFileSync(path.join(path.dirname(file), '..', 'package.json'), 'utf8')) as { version: string }).version;
  echartsCache = { code: safeInScript(fs.readFileSync(file, 'utf8')), name: `echarts ${version}` };
  return echartsCache;
}

/** The page script: the compiled report/client.ts run in a private scope, calling startReport() once loaded. */
export function clientScript(): string {
  if (clientCache) return clientCache;
  const file = path.join(__dirname, 'client.js');
  let code: string;
  try {
    code = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`report: ${file} is missing; build the project (npm run build)`);
  }
  if (/\brequire\(/.test(code)) throw new Error(`report: ${file} requires a module; the page script may only use type imports`);
  code = code.replace(/^\/\/# sourceMappingURL=.*$/m, '');
  clientCache = safeInScript(`(function () {\nvar exports = {};\n${code}\nexports.startReport();\n})();`);
  return clientCache;
}

/** The reports' stylesheet, for a <style> element. */
export function reportCss(): string {
  if (cssCache !== undefined) return cssCache;
  const file = path.join(projectRoot(), 'report', 'report.css');
  let css: string;
  try {
    css = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`report: cannot read the stylesheet ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (/<\/style/i.test(css)) throw new Error(`report: ${file} contains '</style', which would end its element`);
  cssCache = css;
  return cssCache;
}

/** Breaks any '</script' so the code cannot end its own element ('<\/' means the same in JS strings and regexes). */
function safeInScript(code: string): string {
  return code.replace(/<\/(script)/gi, '<\\/$1');
}
