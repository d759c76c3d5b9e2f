import { withHeartbeat } from '#platform';
import { Partitioners } from 'kafkajs';
import { waitForConsumed } from '../support/consumption.js';
import { eventually, testKafka, uniqueSuffix } from '../support/infra.js';

const SESSION_MS = 6_000;
const HANDLER_MS = 14_000;

/**
 * A handler that runs longer than the session timeout: without heartbeats from inside it the member is
 * evicted and the message delivered again; `withHeartbeat` (used by every service's inbox) keeps it.
 */
describe('heavy work inside a handler keeps the consumer in its group', () => {
  const kafka = testKafka();
  const topic = `heartbeat-${uniqueSuffix()}`;

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'k', value: 'slow' }] });
    await producer.disconnect();
  });

  async function consumeSlowly(keepAlive: boolean) {
    const groupId = `heartbeat-${keepAlive}-${uniqueSuffix()}`;
    const consumer = kafka.consumer({ groupId, sessionTimeout: SESSION_MS, heartbeatInterval: 1_000 });
    let joins = 0;
    let deliveries = 0;
    let finished = 0;
    let heartbeats = 0;
    consumer.on(consumer.events.GROUP_JOIN, () => joins++);
    consumer.on(consumer.events.HEARTBEAT, () => heartbeats++);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ heartbeat }) => {
        deliveries++;
        const work = () => new Promise((done) => setTimeout(done, deliveries === 1 ? HANDLER_MS : 10));
        await (keepAlive ? withHeartbeat(heartbeat, work) : work());
        finished++;
      },
    });
    await eventually('handled', async () => finished >= 1 && (keepAlive || deliveries >= 2 || joins >= 2), 60_000);
    if (keepAlive) {
      // The member committed the message and the group then accepted one more of its heartbeats: an eviction
      // during the handler would have refused both (and brought a rejoin and a second delivery instead).
      await waitForConsumed(groupId, [topic], 30_000);
      const before = heartbeats;
      await eventually('a heartbeat after the commit', async () => heartbeats > before, 10_000);
    }
    await consumer.disconnect();
    return { joins, deliveries };
  }

  it('without heartbeats from the handler the member is evicted and rejoins (the failure being prevented)', async () => {
    const { joins, deliveries } = await consumeSlowly(false);
    expect(joins + deliveries).toBeGreaterThan(2);
  }, 90_000);

  it('with withHeartbeat the member stays: one join, one delivery', async () => {
    expect(await consumeSlowly(true)).toEqual({ joins: 1, deliveries: 1 });
  }, 90_000);
});
