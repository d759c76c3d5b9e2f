// Proves that kafkajs 2.2.4 (the Node client the services use; unmaintained since 2023) works against the
// broker started by kafka.sh: Kafka 4 removed old protocol versions (KIP-896) and kafkajs always sends its own
// newest version of each API that is <= the broker's max, never checking the broker's min.
//
//   KAFKA_BROKERS=127.0.0.1:19092 node scripts/kafka/prove-kafkajs.mjs
//
// Steps: createTopics (3 partitions) -> produce 100 messages with keys and headers (acks=-1) -> a consumer group
// consumes all 100 and commits -> fetchOffsets shows the commits -> a second member joins, the group rebalances,
// 10 more messages are consumed exactly once across both members -> describeGroups -> deleteGroups -> deleteTopics.
// Prints one summary line (with the API versions kafkajs negotiated) and exits 0; any failure exits 1.
import kafkajs from 'kafkajs';

const { Kafka, logLevel, Partitioners } = kafkajs;

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean);
const started = Date.now();
const topic = `kafkajs-proof-${started}-${process.pid}`;
const groupId = `${topic}-group`;
const TOTAL = 100;
const AFTER_REBALANCE = 10;

const deadline = setTimeout(() => fail(new Error('timed out after 120 s')), 120_000);
const versions = new Map(); // apiName -> Set(apiVersion)
const clients = [];
let restarts = 0; // consumer restarts kafkajs did on its own after a retriable error
const steps = []; // [name, ms]
let stepStart = Date.now();
const step = (name) => {
  steps.push([name, Date.now() - stepStart]);
  stepStart = Date.now();
};

// kafkajs logs retriable errors (coordinator not available yet, "group is rebalancing") at ERROR level; keep its
// log in memory and print it only if the proof fails (or always with KAFKAJS_LOG=1).
const logs = [];
const logCreator = () => ({ level, label, log }) => {
  const line = `[kafkajs ${label}] ${log.message} ${log.error ? `(${log.error})` : ''}`;
  if (process.env.KAFKAJS_LOG) console.error(line);
  else logs.push(line);
};

function fail(error) {
  if (logs.length) console.error(logs.slice(-40).join('\n'));
  console.error(`kafkajs proof FAILED against ${brokers.join(',')}: ${error?.stack ?? error}`);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function track(client) {
  clients.push(client);
  client.on(client.events.REQUEST, ({ payload }) => {
    if (!versions.has(payload.apiName)) versions.set(payload.apiName, new Set());
    versions.get(payload.apiName).add(payload.apiVersion);
  });
  return client;
}

async function until(what, predicate, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function main() {
  const kafka = new Kafka({
    clientId: 'kafkajs-proof',
    brokers,
    logLevel: process.env.KAFKAJS_LOG ? logLevel.INFO : logLevel.WARN,
    logCreator,
    retry: { retries: 5, initialRetryTime: 200 },
  });

  // 1. admin.createTopics
  const admin = track(kafka.admin());
  await admin.connect();
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: 3, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  check(created === true, 'createTopics returned false');
  check((await admin.listTopics()).includes(topic), 'listTopics does not show the new topic');
  step('createTopics');

  // 2. produce 100 messages with keys and headers
  const producer = track(kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner }));
  await producer.connect();
  const message = (seq) => ({
    key: `order-${seq}`,
    value: JSON.stringify({ seq, at: new Date().toISOString() }),
    headers: { 'x-seq': String(seq), 'x-proof': 'kafkajs-2.2.4' },
  });
  const sent = await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: TOTAL }, (_, seq) => message(seq)),
  });
  const partitionsWritten = new Set(sent.map((r) => r.partition));
  check(partitionsWritten.size === 3, `100 keys landed on ${partitionsWritten.size} partitions, expected 3`);
  step('produce');

  // 3. a consumer group consumes all 100 and commits offsets
  const received = []; // { member, partition, offset, seq }
  const joins = { first: [], second: [] };
  const consumer = (member) => {
    // A kafkajs member only heartbeats (and so only learns of a rebalance) between fetches: a short
    // maxWaitTimeInMs keeps the rebalance quick (the default long poll is 5 s).
    const c = track(
      kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 250, retry: { retries: 5 } }),
    );
    c.on(c.events.GROUP_JOIN, ({ payload }) => joins[member].push(payload));
    // A retriable error (e.g. "coordinator is loading" just after a broker start) makes kafkajs restart the
    // consumer by itself: count it; anything it does not recover from fails the proof.
    c.on(c.events.CRASH, ({ payload }) => (payload.restart ? restarts++ : fail(payload.error)));
    return c;
  };
  const onMessage = (member) => async ({ partition, message: m }) => {
    const seq = Number(m.headers['x-seq']?.toString());
    check(m.key?.toString() === `order-${seq}`, `key ${m.key} does not match header x-seq=${seq}`);
    check(m.headers['x-proof']?.toString() === 'kafkajs-2.2.4', 'header x-proof lost');
    check(JSON.parse(m.value.toString()).seq === seq, 'value does not match header');
    received.push({ member, partition, offset: Number(m.offset), seq });
  };

  const first = consumer('first');
  await first.connect();
  await first.subscribe({ topic, fromBeginning: true });
  await first.run({ autoCommit: false, eachMessage: onMessage('first') });
  await until(`${TOTAL} messages`, () => received.length >= TOTAL);
  const next = new Map(); // partition -> next offset to read
  for (const r of received) next.set(r.partition, Math.max(next.get(r.partition) ?? 0, r.offset + 1));
  await first.commitOffsets([...next].map(([partition, offset]) => ({ topic, partition, offset: String(offset) })));
  check(new Set(received.map((r) => r.seq)).size === TOTAL, 'duplicates or gaps among the first 100');
  step('consume+commit');

  // 4. admin.fetchOffsets shows the committed offsets, equal to the high watermarks
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const highs = await admin.fetchTopicOffsets(topic);
  const committedSum = committed.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
  check(committedSum === TOTAL, `committed offsets add up to ${committedSum}, expected ${TOTAL}`);
  for (const p of committed.partitions) {
    const high = highs.find((h) => h.partition === p.partition);
    check(high && high.high === p.offset, `partition ${p.partition}: committed ${p.offset}, high watermark ${high?.high}`);
  }
  step('fetchOffsets');

  // 5. a second member joins: the group rebalances; 10 new messages are read once, none of the 100 again
  const firstJoinsBefore = joins.first.length;
  const second = consumer('second');
  await second.connect();
  await second.subscribe({ topic, fromBeginning: true });
  await second.run({ autoCommit: true, eachMessage: onMessage('second') });
  await until('the rebalance', () => joins.second.length > 0 && joins.first.length > firstJoinsBefore);
  const assigned = (joins) => joins.at(-1).memberAssignment[topic] ?? [];
  const a1 = assigned(joins.first);
  const a2 = assigned(joins.second);
  check(a1.length > 0 && a2.length > 0, `unbalanced assignment: first ${a1}, second ${a2}`);
  check([...a1, ...a2].sort().join() === '0,1,2', `assignment does not cover the 3 partitions once: ${a1} + ${a2}`);
  step('rebalance');

  await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: AFTER_REBALANCE }, (_, i) => message(TOTAL + i)),
  });
  await until(`${AFTER_REBALANCE} messages after the rebalance`, () => received.length >= TOTAL + AFTER_REBALANCE);
  await new Promise((resolve) => setTimeout(resolve, 1000)); // let any duplicate show up
  const late = received.slice(TOTAL);
  check(late.length === AFTER_REBALANCE, `${late.length} deliveries after the rebalance, expected ${AFTER_REBALANCE}`);
  check(late.every((r) => r.seq >= TOTAL), 'a message committed before the rebalance was delivered again');
  const bySecond = late.filter((r) => r.member === 'second').length;
  step('after-rebalance');

  const [group] = (await admin.describeGroups([groupId])).groups;
  check(group.members.length === 2 && group.state === 'Stable', `group is ${group.state} with ${group.members.length} members`);

  // 6. clean up: members leave, deleteGroups, deleteTopics
  await first.disconnect();
  await second.disconnect();
  await producer.disconnect();
  await admin.deleteGroups([groupId]);
  await admin.deleteTopics({ topics: [topic] });
  let gone = false;
  for (let i = 0; i < 50 && !gone; i++) {
    gone = !(await admin.listTopics()).includes(topic);
    if (!gone) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  check(gone, 'deleteTopics: the topic is still listed');
  await admin.disconnect();
  step('cleanup');

  const used = [...versions]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([api, v]) => `${api} v${[...v].sort((x, y) => x - y).join('/')}`)
    .join(', ');
  console.log(
    `kafkajs 2.2.4 OK against ${brokers.join(',')} in ${((Date.now() - started) / 1000).toFixed(1)}s: ` +
      `createTopics(3 partitions), produced ${TOTAL} with keys+headers (acks=-1), group consumed ${TOTAL} and committed ` +
      `(fetchOffsets sum ${committedSum} = high watermarks), 2nd member rebalanced [${a1}]+[${a2}] and ` +
      `${AFTER_REBALANCE} more were read once (${bySecond} by the new member), describeGroups Stable/2, deleteGroups, deleteTopics` +
      `${restarts ? ` (kafkajs restarted a consumer ${restarts}x after a retriable error)` : ''} | ` +
      `API versions used: ${used} | steps (ms): ${steps.map(([n, ms]) => `${n} ${ms}`).join(', ')}`,
  );
}

main()
  .then(() => {
    clearTimeout(deadline);
    process.exit(0);
  })
  .catch(async (error) => {
    const pause = new Promise((resolve) => setTimeout(resolve, 5000));
    await Promise.race([Promise.allSettled(clients.map((c) => c.disconnect())), pause]);
    fail(error);
  });
