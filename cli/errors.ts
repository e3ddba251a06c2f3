// Exit codes: 0 ok, 1 failure of the work itself, 2 bad usage or input, 3 not found, 4 cancelled/terminated, 5 service unreachable.
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, cancelled: 4, unavailable: 5 } as const;

export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.usage) {
    super(message);
  }
}
