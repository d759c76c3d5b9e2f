import { allTopicSpecs, ensureTopics } from '#platform';
import type { Admin } from 'kafkajs';
import { testKafka, uniqueSuffix } from '../support/infra.js';

/** Two services starting at once create the same missing topics: both start, each topic made once (real broker). */
describe('ensureTopics under a race (real broker)', () => {
  const admins: Admin[] = [testKafka().admin(), testKafka().admin()];
  const made: string[] = [];

  beforeAll(async () => {
    await Promise.all(admins.map((admin) => admin.connect()));
  });

  afterAll(async () => {
    await admins[0]?.deleteTopics({ topics: made }).catch(() => undefined);
    await Promise.all(admins.map((admin) => admin.disconnect()));
  });

  it.each([1, 2, 3])('two callers on fresh topic names both resolve, with every topic and its partitions (round %i)', async () => {
    const specs = allTopicSpecs(`race${uniqueSuffix()}.`, 3);
    made.push(...specs.map((spec) => spec.name));
    const [first, second] = await Promise.all(admins.map((admin) => ensureTopics(admin, specs, 1)));
    // Each topic was created by exactly one of them; the other found it made.
    expect([...first!, ...second!].sort()).toEqual(specs.map((spec) => spec.name).sort());
    const { topics } = await admins[0]!.fetchTopicMetadata({ topics: specs.map((spec) => spec.name) });
    expect(topics.map((topic) => [topic.name, topic.partitions.length]).sort()).toEqual(specs.map((spec) => [spec.name, spec.partitions]).sort());
    expect(topics.flatMap((topic) => topic.partitions).every((partition) => partition.leader >= 0)).toBe(true);
  });

  it('refuses a topic another caller made with other partitions, naming both counts', async () => {
    const [spec] = allTopicSpecs(`race${uniqueSuffix()}.`, 3);
    made.push(spec!.name);
    await ensureTopics(admins[0]!, [{ ...spec!, partitions: 2 }], 1);
    // As if it had been missing when this caller first looked: the race's loser verifies what the winner made.
    let looked = false;
    const blind = Object.assign(Object.create(admins[1]!) as Admin, { listTopics: async () => (looked ? admins[1]!.listTopics() : ((looked = true), [])) });
    await expect(ensureTopics(blind, [spec!], 1)).rejects.toThrow(`topic ${spec!.name} has 2 partitions, 3 wanted`);
  });
});
