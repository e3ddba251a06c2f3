// The experiment config: file loading, --set overrides, and the errors of bad configs (unknown key, wrong type,
// missing model file, unreachable store), each naming the problem. No Temporal needed.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { checkConfigResources, checkModelFiles, checkStore } from '../../config/check';
import { applyOverrides, ConfigError, configHash, loadConfig, parseConfig } from '../../config/load';
import { ExperimentSchema } from '../../config/schema';
import { openStore } from '../../store/open';
import { projectRoot } from '../../temporal/project-root';
import { finetuneCadence, finetuneMarks, planStages } from '../../lineage/plan';
import { tmpDir } from '../support/helpers';

const configs = path.join(projectRoot(), 'configs');

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the config to be rejected');
}

test('configs/default.yaml is exactly the schema defaults; tiny-test.yaml loads', () => {
  const fromFile = loadConfig(path.join(configs, 'default.yaml'));
  const defaults = loadConfig();
  assert.deepEqual(fromFile.config, defaults.config);
  assert.equal(fromFile.hash, defaults.hash);
  const tiny = loadConfig(path.join(configs, 'tiny-test.yaml'));
  assert.equal(tiny.config.name, 'tiny-test');
  assert.notEqual(tiny.hash, defaults.hash);
  assert.ok(path.isAbsolute(tiny.config.store!), 'the default store path is made absolute');
});

test('a partly given section keeps the defaults of the fields it leaves out', () => {
  const c = parseConfig({ model: { source: 'pretrain', train: { steps: 10 } }, finetune: { train: { lr: 0.01 } } });
  assert.equal(c.model.source, 'pretrain');
  if (c.model.source !== 'pretrain') return;
  assert.equal(c.model.train.steps, 10);
  assert.equal(c.model.train.loss, 'sentence', 'pretraining keeps DEFAULT_BASE loss');
  assert.equal(c.finetune.train.lr, 0.01);
  assert.equal(c.finetune.train.batch_size, 32);
});

test('YAML and JSON files, --set overrides parsed as JSON or string', () => {
  const dir = tmpDir('config');
  fs.writeFileSync(path.join(dir, 'a.yaml'), 'name: from-yaml\nfinetune:\n  epochs: [1, 3]\n');
  fs.writeFileSync(path.join(dir, 'b.json'), JSON.stringify({ name: 'from-json', trace: { n: 12 } }));
  const a = loadConfig(path.join(dir, 'a.yaml'), { set: ['trace.n=7', 'name=over', 'model.arch.n_layer=3'] });
  assert.equal(a.config.name, 'over');
  assert.deepEqual(a.config.finetune.epochs, [1, 3]);
  assert.equal(a.config.trace.n, 7);
  assert.equal(a.config.model.source === 'pretrain' && a.config.model.arch.n_layer, 3);
  assert.equal(loadConfig(path.join(dir, 'b.json')).config.trace.n, 12);
  assert.deepEqual(applyOverrides({}, ['finetune.epochs=[2,4]', 'store=s3://b/p']), { finetune: { epochs: [2, 4] }, store: 's3://b/p' });
  // the hash identifies the experiment, not where its results go
  assert.equal(configHash({ ...a.config, store: '/x' }), configHash({ ...a.config, store: '/y' }));
  assert.notEqual(configHash(a.config), configHash({ ...a.config, seed: 1 }));
});

test('unknown keys fail with the dotted path and the keys that exist', () => {
  const top = configError(() => parseConfig({ finetun: {} }, { source: 'x.yaml' }));
  assert.match(top.message, /^config x\.yaml: finetun: unknown key "finetun"; expected one of name, seed, .*finetune/);
  const nested = configError(() => parseConfig({ finetune: { train: { learning_rate: 1 } } }));
  assert.match(nested.message, /finetune\.train\.learning_rate: unknown key "learning_rate" in finetune\.train; expected one of .*\blr\b/);
  assert.equal(nested.field, 'finetune.train.learning_rate');
  // stage train settings take their steps from the stage's epochs
  assert.match(configError(() => parseConfig({ corrupt: { train: { epochs: 3 } } })).message, /corrupt\.train\.epochs: unknown key/);
  const set = configError(() => applyOverrides({}, ['finetune.train.lrr=0.1']));
  assert.match(set.message, /--set finetune\.train\.lrr: unknown key "lrr" in finetune\.train; expected one of .*\blr\b/);
  assert.match(configError(() => applyOverrides({}, ['name.first=x'])).message, /--set name\.first: name is not an object/);
  assert.match(configError(() => applyOverrides({}, ['trace.n'])).message, /expected key=value/);
});

test('wrong types and values name the field, what was expected and what was given', () => {
  assert.match(configError(() => parseConfig({ trace: { n: 'many' } })).message, /trace\.n: expected number, got string "many"/);
  assert.match(configError(() => parseConfig({ finetune: { epochs: 3 } })).message, /finetune\.epochs: expected array, got number 3/);
  assert.match(configError(() => parseConfig({ finetune: { epochs: [2, 1] } })).message, /finetune\.epochs: expected strictly ascending/);
  assert.match(configError(() => parseConfig({ backend: 'gpu' })).message, /backend: .*"auto"\|"tensorflow"\|"wasm"\|"cpu"/);
  assert.match(configError(() => parseConfig({ model: { source: 'hf' } })).message, /model\.path: expected string, got nothing \(the field is required\)/);
  assert.match(configError(() => parseConfig({ model: { source: 'onnx' } })).message, /model\.source: .*'pretrain' \| 'hf' \| 'checkpoint'/);
  assert.match(configError(() => parseConfig({ trace: { methods: ['activation', 'telepathy'] } })).message, /trace\.methods\.1: /);
  const dir = tmpDir('config');
  fs.writeFileSync(path.join(dir, 'bad.yaml'), 'name: [unclosed\n');
  assert.match(configError(() => loadConfig(path.join(dir, 'bad.yaml'))).message, /bad\.yaml: not valid YAML/);
  assert.match(configError(() => loadConfig(path.join(dir, 'missing.yaml'))).message, /missing\.yaml: cannot read the file \(not found\)/);
});

test('a missing model folder or file is reported with the path', () => {
  const dir = tmpDir('model');
  const noFolder = parseConfig({ model: { source: 'hf', path: path.join(dir, 'nope') } });
  assert.match(configError(() => checkModelFiles(noFolder)).message, /model\.path: folder .*nope not found/);
  fs.writeFileSync(path.join(dir, 'config.json'), '{}');
  const noWeights = parseConfig({ model: { source: 'hf', path: dir } });
  assert.match(configError(() => checkModelFiles(noWeights)).message, /model\.path: .*model\.safetensors not found; a hf folder needs config\.json, model\.safetensors/);
  const fixture = parseConfig({ model: { source: 'hf', path: path.join(projectRoot(), 'test', 'fixtures', 'tiny-gpt2') } });
  checkModelFiles(fixture); // the committed HF fixture has both files
  const relative = parseConfig({ model: { source: 'checkpoint', path: 'some/dir' } }, { baseDir: dir });
  assert.equal(relative.model.source === 'checkpoint' && relative.model.path, path.join(dir, 'some', 'dir'));
});

test('an unreachable or unusable store fails fast and names the store', async () => {
  const closedPort = await new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
  const s3 = parseConfig({ store: 's3://plasticity-nowhere/lineages' });
  const t0 = Date.now();
  const err = await checkStore(s3, (spec) => openStore(spec, { s3: { endpoint: `http://127.0.0.1:${closedPort}`, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } } })).then(
    () => assert.fail('expected the store check to fail'),
    (e: unknown) => e as ConfigError,
  );
  assert.ok(err instanceof ConfigError);
  assert.equal(err.field, 'store');
  assert.match(err.message, /^store: s3:\/\/plasticity-nowhere\/lineages is not usable: /);
  assert.ok(Date.now() - t0 < 60_000, 'fails fast rather than retrying for minutes');

  const dir = tmpDir('store');
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'not a folder');
  const local = parseConfig({ store: path.join(file, 'store') });
  await assert.rejects(checkConfigResources(local), (e: unknown) => e instanceof ConfigError && /^store: .*a-file\/store is not usable/.test(e.message));
  assert.match(configError(() => parseConfig({ store: 'ftp://host/x' })).message, /store: expected a folder path, file:\/\/\/abs\/path or s3:\/\/bucket\/prefix/);
});

test('the lineage plan: finetune checkpoints fall on every epoch boundary', () => {
  const c = parseConfig({ data: { n_train: 512 } }); // 16 steps per epoch at the default batch size 32
  assert.deepEqual(finetuneMarks(c), { 'epoch-1': 16, 'epoch-2': 32, 'epoch-5': 80, 'epoch-10': 160 });
  assert.equal(finetuneCadence(c), 16);
  const small = parseConfig({ data: { n_train: 512 }, checkpoint_every: 6 });
  assert.equal(finetuneCadence(small), 4, 'the largest divisor of 16 that is <= 6');
  const names = planStages(c).map((s) => s.name);
  assert.deepEqual(names, [
    'validate', 'base', 'trace-base', 'finetune', 'trace-finetune-e1', 'trace-finetune-e2', 'trace-finetune-e5', 'trace-finetune-e10',
    'corrupt', 'trace-corrupt', 'retrain', 'trace-retrain', 'compare', 'report',
  ]);
  assert.ok(ExperimentSchema.safeParse({ checkpoint_every: -1 }).error);
});
