// `plasticity report ID [--out DIR] [--open] [--store URL]` and `plasticity report --from-json FILE [--out DIR]`:
// writes a self-contained report.html (plus the report-data.json it was rendered from) for a lineage run.
// Source of the data, in order: the store's report index (reports/<ID>.json) when --store is given; else the run
// on Temporal (result or live progress, the completed stages from its history, artifacts from its store); when
// Temporal is unreachable, the default store's report index. Exit code: 0 written, 2 bad usage or input file,
// 3 unknown id, 5 Temporal unreachable (and no stored report).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { collectReportData } from '../../report/collect';
import { checkReportData, type ReportData } from '../../report/data';
import { renderReport } from '../../report/render';
import { readReportIndex } from '../../report/store-index';
import type { ArtifactStore } from '../../store/artifact-store';
import { openStore } from '../../store/open';
import { projectRoot } from '../../temporal/project-root';
import { CliError, EXIT } from '../errors';

interface ReportOptions {
  out?: string;
  open?: boolean;
  store?: string;
  fromJson?: string;
}

export function register(program: Command): void {
  program
    .command('report')
    .description('write a self-contained HTML report (works offline) of a lineage run')
    .argument('[id]', 'workflow id of the lineage (as printed by `plasticity run`)')
    .option('--out <dir>', 'output folder (default <project>/.plasticity/reports/<ID>)')
    .option('--open', 'open the report with xdg-open')
    .option('--store <url>', "artifact store to read (folder, file:// or s3:// URL); default: the run's store")
    .option('--from-json <file>', 'render saved report data (report-data.json) instead of reading a run')
    .action(async (id: string | undefined, opts: ReportOptions) => {
      const data = await reportData(id, opts);
      const outDir = path.resolve(opts.out ?? defaultOutDir(id ?? data.lineage.id ?? data.lineage.name));
      const file = writeReport(outDir, data);
      process.stdout.write(`${file}\n`);
      if (opts.open) openInBrowser(file);
    });
}

export function defaultOutDir(id: string): string {
  return path.join(projectRoot(), '.plasticity', 'reports', id.replace(/[^A-Za-z0-9._-]+/g, '_'));
}

/** Writes report.html and report-data.json into `dir`; returns the HTML file's path. */
export function writeReport(dir: string, data: ReportData): string {
  const html = renderReport(data);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'report-data.json'), JSON.stringify(data, null, 1));
    fs.writeFileSync(path.join(dir, 'report.html'), html);
  } catch (err) {
    throw new CliError(`--out ${dir}: cannot write the report there (${(err as Error).message})`, EXIT.usage);
  }
  return path.join(dir, 'report.html');
}

async function reportData(id: string | undefined, opts: ReportOptions): Promise<ReportData> {
  if (opts.fromJson) {
    if (id) throw new CliError('give either a workflow id or --from-json FILE, not both', EXIT.usage);
    return readDataFile(opts.fromJson);
  }
  if (!id) throw new CliError('missing the workflow id (or --from-json FILE); list runs with `plasticity ls`', EXIT.usage);
  if (opts.store) {
    const stored = await storedData(openCliStore(opts.store), id);
    if (stored) return stored;
  }
  try {
    return await fromTemporal(id, opts.store);
  } catch (err) {
    if (err instanceof CliError && err.exitCode === EXIT.unavailable && !opts.store) {
      const stored = await storedData(openCliStore(undefined), id).catch(() => undefined);
      if (stored) {
        process.stderr.write(`${err.message}\nusing the report data stored for ${id} in the default store\n`);
        return stored;
      }
    }
    throw err;
  }
}

export function readDataFile(file: string): ReportData {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`--from-json ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT.usage);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(`--from-json ${file}: not valid JSON (${(err as Error).message})`, EXIT.usage);
  }
  try {
    return checkReportData(parsed, `--from-json ${file}`);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.usage);
  }
}

function openCliStore(url: string | undefined): ArtifactStore {
  try {
    return openStore(url); // no URL: <cwd>/.plasticity/store, the configs' default
  } catch (err) {
    throw new CliError(`--store: ${(err as Error).message}`, EXIT.usage);
  }
}

/** The report data the lineage's report stage stored (undefined when the store has no report for the id). */
async function storedData(store: ArtifactStore, id: string): Promise<ReportData | undefined> {
  const index = await readReportIndex(store, id);
  if (!index) return undefined;
  const parsed = JSON.parse((await store.getBlob(index.data)).toString('utf8')) as unknown;
  return checkReportData(parsed, `${index.data.uri} (report data of ${id})`);
}

/** Reads the run from Temporal (status, progress or result, input, completed stages) and the artifacts from its store. */
async function fromTemporal(id: string, storeUrl: string | undefined): Promise<ReportData> {
  // Loaded here so --from-json and store reads never load the Temporal client.
  const { cliConnectionSettings, connectCli, statusWord } = await import('../temporal-access');
  const { readRunState } = await import('../run-state');
  const { collectReusable } = await import('../../temporal/lineage-client');
  const { workflowUiUrl } = await import('../../temporal/connection');
  const settings = cliConnectionSettings();
  const client = await connectCli(settings);
  try {
    const state = await readRunState(client, id);
    const { input, reuse } = await collectReusable(client, id, state.runId);
    const store = openCliStore(storeUrl ?? state.result?.storeUrl ?? input.config.store);
    return await collectReportData(store, {
      workflowId: id,
      result: state.result,
      progress: state.progress,
      stages: reuse.stages,
      config: input.config,
      configHash: input.configHash,
      codeVersion: input.codeVersion,
      status: statusWord(state.status),
      failure: state.failure,
      uiUrl: workflowUiUrl(settings, id),
      startedAt: state.startTime,
      finishedAt: state.closeTime,
    });
  } finally {
    await client.connection.close();
  }
}

function openInBrowser(file: string): void {
  try {
    const child = spawn('xdg-open', [file], { detached: true, stdio: 'ignore' });
    child.on('error', (err) => process.stderr.write(`--open: could not run xdg-open (${err.message}); open ${file} yourself\n`));
    child.unref();
  } catch (err) {
    process.stderr.write(`--open: could not run xdg-open (${(err as Error).message}); open ${file} yourself\n`);
  }
}
