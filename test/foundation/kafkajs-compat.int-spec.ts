import { Partitioners } from 'kafkajs';
import { eventually, testKafka, uniqueSuffix } from '../support/infra.js';

/**
 * Kafka 4 removed old protocol versions (KIP-896) and kafkajs 2.2.4 is unmaintained: this proves
 * the broker version the project runs against with every API the services use.
 */
describe('kafkajs 2.2.4 against the project broker', () => {
  const kafka = testKafka();
  const topic = `compat-${uniqueSuffix()}`;

  it('creates topics, produces with headers, joins a group, commits, rebalances and deletes', async () => {
    const admin = kafka.admin();
    await admin.connect();
    const { brokers } = await admin.describeCluster();
    expect(brokers.length).toBeGreaterThan(0);
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    expect(await admin.listTopics()).toContain(topic);

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, headers: { type: 'Compat' } })),
    });
    await producer.disconnect();

    const groupId = `compat-group-${uniqueSuffix()}`;
    const seen = new Set<string>();
    const first = kafka.consumer({ groupId });
    await first.connect();
    await first.subscribe({ topic, fromBeginning: true });
    await first.run({
      autoCommit: true,
      eachMessage: async ({ message }) => {
        expect(message.headers?.type?.toString()).toBe('Compat');
        seen.add(message.value!.toString());
      },
    });
    await eventually('every message seen', async () => seen.size === 100, 60_000);

    // A second member joins: the group rebalances without error.
    const second = kafka.consumer({ groupId });
    await second.connect();
    await second.subscribe({ topic, fromBeginning: true });
    await second.run({ eachMessage: async () => undefined });
    await eventually('both members in the rebalanced group', async () => {
      const [group] = (await admin.describeGroups([groupId])).groups;
      return group?.state === 'Stable' && group.members.length === 2;
    }, 60_000);
    await first.disconnect();
    await second.disconnect();

    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = offsets[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
    expect(committed).toBe(100);
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  });
});
