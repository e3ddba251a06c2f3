// Every workflow of plasticity (the workers' workflowsPath points at the compiled copy of this file).
export { lineageWorkflow } from './lineage';
export { sweepWorkflow } from './sweep';
