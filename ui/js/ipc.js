// How the UI calls the app's commands: Tauri's IPC inside the app, or the loopback HTTP bridge
// (`rounds-app-bridge`) when the same UI runs in a browser for tests. Both carry the same
// JSON and the same `{ kind, message }` errors. The bridge answers only the page it served:
// that page carries a per-run token (`<meta name="rounds-bridge-token">`) sent with every
// command.

export class CommandError extends Error {
  constructor(e) {
    super(e.message ?? String(e));
    this.kind = e.kind ?? 'internal';
    this.field = e.field ?? null;
    this.retry_at = e.retry_at ?? null;
  }
}

const bridgeToken = globalThis.document
  ?.querySelector('meta[name="rounds-bridge-token"]')?.getAttribute('content') ?? '';

export async function invoke(name, args) {
  const tauri = globalThis.__TAURI_INTERNALS__;
  if (tauri) {
    try {
      return await tauri.invoke(name, args === undefined ? {} : { args });
    } catch (e) {
      throw new CommandError(typeof e === 'object' && e ? e : { message: String(e) });
    }
  }
  let r;
  try {
    r = await fetch(`/invoke/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-rounds-token': bridgeToken },
      body: args === undefined ? '' : JSON.stringify(args),
    });
  } catch (e) {
    throw new CommandError({ kind: 'internal', message: 'The app is not responding.' });
  }
  const body = await r.json();
  if (!r.ok) throw new CommandError(body);
  return body;
}
