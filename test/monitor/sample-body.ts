/** Test fixtures of the monitor stage: a real JPEG made with sharp, a body input, and a client pointed at a fake. */
import type { TestContext } from 'node:test';
import sharp from 'sharp';
import { PicselliaClient, type PicselliaClientOptions } from '../../src/monitor/picsellia-client.js';
import type { MonitorBodyInput } from '../../src/monitor/monitor-body.js';
import { startFakePicsellia, type FakePicsellia, type FakePicselliaOptions } from '../helpers/fake-picsellia.js';

/** A small real JPEG (sharp-made, solid colour). */
export async function makeJpeg(width = 32, height = 24): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 90 } } }).jpeg().toBuffer();
}

/** A small real PNG. */
export async function makePng(width = 16, height = 16): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 10, g: 120, b: 250 } } }).png().toBuffer();
}

/** A classification body input for `bytes`, with a shadow; `imageId` keeps bodies distinct. */
export function sampleInput(bytes: Buffer, imageId: string, overrides: Partial<MonitorBodyInput> = {}): MonitorBodyInput {
  return {
    filename: `${imageId}.jpg`,
    contentType: 'IMAGE/JPEG',
    width: 32,
    height: 24,
    bytes,
    champion: { prediction: { detection_classes: [2], detection_texts: null, detection_scores: [0.8] }, latencySeconds: 0.0257 },
    shadow: { prediction: { detection_classes: [1], detection_texts: null, detection_scores: [0.64] }, latencySeconds: 0.031 },
    source: 'camera-1',
    tags: ['edge', 'line-3'],
    timestamp: 1730000000.125,
    edgewatch: {
      imageId,
      champion: { name: 'demo-champion', hash: 'sha256:aaaa' },
      shadow: { name: 'demo-shadow', hash: 'sha256:bbbb' },
      backend: 'wasm',
      agentVersion: '0.1.0',
      capturedAt: 1729999999.5,
      host: 'edge-01',
    },
    ...overrides,
  };
}

/** A client for `fake` (organization by name); `overrides` replace any option. */
export function clientFor(fake: FakePicsellia, overrides: Partial<PicselliaClientOptions> = {}): PicselliaClient {
  return new PicselliaClient({
    host: fake.url,
    apiToken: fake.apiToken,
    organization: fake.state.organization.name,
    deployment: fake.state.deployment.name,
    requestTimeoutMs: 5_000,
    userAgent: 'edgewatch/0.1.0 test',
    ...overrides,
  });
}

/** A fake Picsellia and a client for it (`clientFor`), both closed in `t.after`, the client first. */
export async function fakeAndClient(t: TestContext, fakeOptions: FakePicselliaOptions = {}, clientOverrides: Partial<PicselliaClientOptions> = {}): Promise<{ fake: FakePicsellia; client: PicselliaClient }> {
  const fake = await startFakePicsellia(fakeOptions);
  const client = clientFor(fake, clientOverrides);
  t.after(async () => {
    await client.close();
    await fake.close();
  });
  return { fake, client };
}
