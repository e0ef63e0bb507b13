/** MQTT sink against a real mosquitto: every champion prediction published at QoS 1 to edgewatch/<deployment>/predictions; a broker that is down only delays the sink. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt from 'mqtt';
import type { LateShadowRecord, SinkRecord } from '../../src/sinks/record.js';
import { predictionsTopic } from '../../src/sinks/mqtt-sink.js';
import { agentArgs, distinctJpegs, startAgent, startService, stateDbQuery, tempFolder, waitUntil } from '../helpers/service.js';
import { MOSQUITTO, startBroker } from './mosquitto.js';
import { rawOf, storedByImageId } from './stored.js';

test('predictionsTopic: MQTT wildcards and separators in the deployment name cannot change the topic', () => {
  assert.equal(predictionsTopic('demo'), 'edgewatch/demo/predictions');
  assert.equal(predictionsTopic('a/b+#'), 'edgewatch/a_b__/predictions');
});

test('MQTT: the champion predictions reach a subscriber (QoS 1), also those made while the broker was down', { skip: !existsSync(MOSQUITTO) && 'mosquitto is not installed' }, async (t) => {
  const brokerDir = await tempFolder(t, 'edgewatch-mqtt-');
  const broker = await startBroker(t, brokerDir);
  const topic = predictionsTopic('demo');
  // A persistent session (clean: false): QoS 1 messages published while the subscriber is away are kept for it, across a broker restart.
  const subscriberOptions = { clientId: 'edgewatch-test-subscriber', clean: false, reconnectPeriod: 200 };
  const received: SinkRecord[] = [];
  // A shadow that fell behind adds a follow-up record (README "Result sinks"), on the same topic.
  const followUps: LateShadowRecord[] = [];
  const subscribe = async () => {
    const client = await mqtt.connectAsync(broker.url, subscriberOptions);
    client.on('message', (_topic, payload) => {
      const record = JSON.parse(payload.toString('utf8')) as SinkRecord | LateShadowRecord;
      if (record.schema === 'edgewatch.prediction/1') received.push(record);
      else followUps.push(record);
    });
    await client.subscribeAsync(topic, { qos: 1 });
    return client;
  };
  let subscriber = await subscribe();
  t.after(() => subscriber.endAsync(true));

  const service = await startService(t);
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  const images = await distinctJpegs(8);
  for (const [i, bytes] of images.slice(0, 4).entries()) await writeFile(join(inbox, `a-${i}.jpg`), bytes);
  const stateDir = join(dir, 'state');
  const { agent } = await startAgent(t, agentArgs({ host: service.url, inbox, stateDir }, ['--sink-mqtt', broker.url]), { PICSELLIA_API_TOKEN: service.token });
  const imageRecordsPending = () =>
    stateDbQuery(stateDir, (db) => (db.prepare("SELECT COUNT(*) AS n FROM sink_pending WHERE sink = 'mqtt' AND image_id NOT LIKE '%:shadow'").get() as { n: number }).n);
  await waitUntil(() => received.length === 4, 30_000, 'four messages', () => JSON.stringify(agent.sinks?.status()));

  // The broker goes down: monitoring goes on, the sink's records wait in the state database.
  await subscriber.endAsync();
  await broker.stop();
  for (const [i, bytes] of images.slice(4).entries()) await writeFile(join(inbox, `b-${i}.jpg`), bytes);
  await waitUntil(() => service.count() === 8, 30_000, 'all eight monitored while the broker is down');
  await waitUntil(() => imageRecordsPending() === 4, 10_000, 'four image records waiting', () => JSON.stringify(agent.sinks?.status()));
  assert.equal(received.length, 4);

  await broker.start();
  subscriber = await subscribe();
  await waitUntil(() => received.length >= 8 && agent.sinks?.status().mqtt?.pending === 0, 30_000, 'the rest delivered once the broker is back', () => JSON.stringify(agent.sinks?.status()));

  const stored = storedByImageId(service.dataDir);
  assert.deepEqual(new Set(received.map((r) => r.imageId)), new Set(stored.keys()), 'exactly the monitored images (duplicates allowed: at least once)');
  for (const record of received) {
    const s = stored.get(record.imageId);
    assert.ok(s);
    assert.equal(record.deployment, 'demo');
    assert.deepEqual(rawOf(record), { classes: s.champion.detection_classes, scores: s.champion.detection_scores });
  }
  for (const followUp of followUps) assert.ok(stored.has(followUp.imageId) && received.some((r) => r.imageId === followUp.imageId && r.shadow === undefined), 'a follow-up completes an image record sent without its shadow');
});
