// A configured circuit (config trace.circuits) as a tracing Circuit. No tfjs import: activities call this.
import type { CircuitConfig } from '../config/schema';
import type { Circuit } from './circuit';
import { parseHead, parsePositionLabel } from './heads';

export function circuitFromConfig(c: CircuitConfig): Circuit {
  return {
    name: c.name,
    heads: c.heads.map((h) => {
      const spec = typeof h === 'string' ? { head: h } : h;
      const positions = spec.positions === undefined || spec.positions === 'all' ? 'all' : spec.positions.map(parsePositionLabel);
      return { ...parseHead(spec.head), positions, ...(spec.class ? { cls: spec.class } : {}) };
    }),
  };
}
