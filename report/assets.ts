// The scripts inlined into every report: ECharts' minified browser bundle (from node_modules) and the page script
// (report/client.ts, compiled beside this file). Read once per process.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface InlineScript {
  code: string;
  /** e.g. 'echarts 6.1.0' */
  name: string;
}

let echartsCache: InlineScript | undefined;
let clientCache: string | undefined;

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

/** Breaks any '</script' so the code cannot end its own element ('<\/' means the same in JS strings and regexes). */
function safeInScript(code: string): string {
  return code.replace(/<\/(script)/gi, '<\\/$1');
}
