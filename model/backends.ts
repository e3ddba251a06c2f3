// The tfjs backends the project runs on, in ladder order. No tfjs import, so configs and workflows can name them.
export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What a config or flag may ask for: a backend, or 'auto' (the ladder). */
export const BACKEND_CHOICES = ['auto', ...BACKEND_NAMES] as const;
export type BackendPreference = (typeof BACKEND_CHOICES)[number];
