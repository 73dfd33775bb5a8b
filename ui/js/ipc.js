// How the UI calls the app's commands: Tauri's IPC inside the app, or the loopback HTTP bridge
// (`rounds-app-bridge`) when the same UI runs in a browser for tests. Both carry the same
// JSON and the same `{ kind, message }` errors.

export class CommandError extends Error {
  constructor(e) {
    super(e.message ?? String(e));
    this.kind = e.kind ?? 'internal';
    this.field = e.field ?? null;
    this.retry_at = e.retry_at ?? null;
  }
}

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
      headers: { 'content-type': 'application/json' },
      body: args === undefined ? '' : JSON.stringify(args),
    });
  } catch (e) {
    throw new CommandError({ kind: 'internal', message: 'The app is not responding.' });
  }
  const body = await r.json();
  if (!r.ok) throw new CommandError(body);
  return body;
}
