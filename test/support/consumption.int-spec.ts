import { Partitioners } from 'kafkajs';
import { waitForConsumed } from './consumption.js';
import { testKafka, uniqueSuffix } from './infra.js';

/** The wait the "nothing changed" assertions rely on: it returns only once the handlers have run. */
describe('waitForConsumed (real broker)', () => {
  const kafka = testKafka();
  const topic = `consumed-${uniqueSuffix()}`;

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
  });

  async function produce(count: number, tag: string) {
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: count }, (_, i) => ({ key: `${tag}-${i}`, value: `${tag}-${i}` })) });
    await producer.disconnect();
  }

  it('returns once every message produced before the call has been handled, with the topics given or assigned', async () => {
    const groupId = `consumed-${uniqueSuffix()}`;
    const handled = new Set<string>();
    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        await new Promise((done) => setTimeout(done, 20));
        handled.add(message.value!.toString());
      },
    });
    try {
      await produce(40, 'first');
      await waitForConsumed(groupId, [topic]);
      expect(handled.size).toBe(40);
      await produce(25, 'second');
      await waitForConsumed(groupId);
      expect(handled.size).toBe(65);
    } finally {
      await consumer.disconnect();
    }
  });

  it('does not return while a handler is still working on a message', async () => {
    const groupId = `stuck-${uniqueSuffix()}`;
    let release: () => void = () => undefined;
    const released = new Promise<void>((done) => (release = done));
    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: () => released });
    try {
      await expect(waitForConsumed(groupId, [topic], 3_000)).rejects.toThrow(/timed out waiting for consumer group stuck-.* at the end of/);
      release();
      await waitForConsumed(groupId, [topic]);
    } finally {
      release();
      await consumer.disconnect();
    }
  });
});
