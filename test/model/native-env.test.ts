// The environment the native TensorFlow library is given before it loads (model/native-path.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setNativeEnvDefaults } from '../../model/native-path';

test('native env defaults: quiet start-up and the system allocator (freed tensor memory goes back to the OS)', () => {
  const env: NodeJS.ProcessEnv = {};
  setNativeEnvDefaults(env);
  assert.equal(env.TF_CPP_MIN_LOG_LEVEL, '2');
  assert.equal(env.TF_ONEDNN_USE_SYSTEM_ALLOCATOR, '1');
});

test('native env defaults: values the user set are kept', () => {
  const env: NodeJS.ProcessEnv = { TF_CPP_MIN_LOG_LEVEL: '0', TF_ONEDNN_USE_SYSTEM_ALLOCATOR: '0' };
  setNativeEnvDefaults(env);
  assert.deepEqual(env, { TF_CPP_MIN_LOG_LEVEL: '0', TF_ONEDNN_USE_SYSTEM_ALLOCATOR: '0' });
});
