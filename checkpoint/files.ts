// The names inside a checkpoint folder, in one place. A checkpoint folder is a Hugging Face GPT-2 folder
// (config.json + model.safetensors) plus the Adam moments and plasticity.json (folder.ts). A run's checkpoints are
// step-000120 folders on disk and step-000120.json manifests in a store series (series.ts). No imports: the CLI and
// the config checks read these without loading the model.

export const HF_CONFIG_FILE = 'config.json';
export const MODEL_FILE = 'model.safetensors';
/** Adam moments: only in the in-progress checkpoints of a running stage (what a resume needs), absent in a weights-only export. */
export const OPTIMIZER_FILE = 'optimizer.safetensors';
/** Written last into a checkpoint folder: its presence marks the folder complete. */
export const META_FILE = 'plasticity.json';

/** The files of a model/checkpoint folder that are stored (anything else in an HF folder is ignored). */
export const CHECKPOINT_FILES = [HF_CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, META_FILE];

/** `step-000120`: the name of the checkpoint at `step` (a folder on disk; with `.json`, its manifest in a store series). */
export function stepName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/** The step a stepName names, or undefined when `name` is not one. */
export function stepOf(name: string): number | undefined {
  const m = /^step-(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}
