/** Model and runtime names an agent reports in `custom_metadata.edgewatch` (tolerant of its exact shape). */

/** A model as reported: its name and content hash. */
export interface ModelNames {
  name: string;
  hash: string | null;
}

function modelOf(value: unknown): ModelNames | null {
  if (typeof value === 'string' && value !== '') return { name: value, hash: null };
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    const name = typeof v.name === 'string' ? v.name : null;
    const hash = typeof v.hash === 'string' ? v.hash : typeof v.sha256 === 'string' ? v.sha256 : typeof v.contentHash === 'string' ? v.contentHash : null;
    if (name !== null || hash !== null) return { name: name ?? '(unnamed)', hash };
  }
  return null;
}

/** Names read from the value of `custom_metadata.edgewatch` (anything; non-objects give nulls). */
export function readEdgewatchNames(edgewatch: unknown): { champion: ModelNames | null; shadow: ModelNames | null; backend: string | null; agentVersion: string | null } {
  const cm = (edgewatch && typeof edgewatch === 'object' ? edgewatch : {}) as Record<string, unknown>;
  const models = (cm.models && typeof cm.models === 'object' ? cm.models : {}) as Record<string, unknown>;
  const str = (...vs: unknown[]): string | null => (vs.find((v) => typeof v === 'string' && v !== '') as string | undefined) ?? null;
  return {
    champion: modelOf(cm.champion ?? models.champion ?? cm.championName),
    shadow: modelOf(cm.shadow ?? models.shadow ?? cm.shadowName),
    backend: str(cm.backend, (cm.champion as Record<string, unknown> | undefined)?.backend),
    agentVersion: str(cm.agentVersion, cm.agent_version, cm.version),
  };
}

/** "name · first 12 hex of the hash", or the name alone. */
export function modelLabel(m: ModelNames | null): string | null {
  return m === null ? null : m.hash ? `${m.name} · ${m.hash.slice(0, 12)}` : m.name;
}
