// A DBOS TypeScript application (@dbos-inc/dbos-sdk 5.3.0) that tests/interop/test_typescript.py
// drives only through dbos_client. Plain CommonJS on purpose: Node 20 runs it as is, with no
// compile step, and it calls exactly the SDK API a TypeScript app calls.
//
// Environment: DBOS_SYSTEM_DATABASE_URL (required), TS_APP_QUEUE (default "ts_q").
// It prints one READY line on stdout once the queue is polled, and exits when stdin closes.
//
// Workflows named *_native use the SDK's default serializer (js_superjson); the others are
// registered with serialization 'portable', so they read what a portable enqueue writes and
// write portable JSON back. Step outputs are js_superjson either way.
'use strict';

const { DBOS } = require('@dbos-inc/dbos-sdk');

const QUEUE = process.env.TS_APP_QUEUE || 'ts_q';
const portable = { serialization: 'portable' };

// Every type superjson annotates, nested too: what a TS app writes without opting into portable JSON.
function richValue() {
  const err = new RangeError('out of range: 7');
  return {
    date: new Date('2024-02-29T12:34:56.789Z'),
    big: 12345678901234567890n,
    negBig: -9007199254740993n,
    map: new Map([['a', 1], ['when', new Date(0)]]),
    numKeyMap: new Map([[1, 'one'], [2n, 'two']]),
    objKeyMap: new Map([[{ id: 1 }, 'object key']]),
    set: new Set([1, 'two', 3n]),
    undef: undefined,
    regex: /ab+c\.d/gi,
    error: err,
    nan: NaN,
    inf: Infinity,
    ninf: -Infinity,
    negZero: -0,
    unicode: 'héllo wörld, 你好, 🎉',
    nested: { list: [new Date('2000-01-01T00:00:00.000Z'), { deep: new Set(['x']) }, undefined], 'dotted.key': 1n },
    buffer: Buffer.from([1, 2, 255]),
    url: new URL('https://dbos.dev/a?b=1'),
    typed: new Float64Array([1.5, -2]),
    plain: [1, 'two', null, true, 2.5],
    maxSafe: Number.MAX_SAFE_INTEGER,
  };
}

// What JS sees of a value Python wrote: its type, and its exact text.
function describe(v) {
  if (v === null) return { type: 'null' };
  if (Array.isArray(v)) return { type: 'array', items: v.map(describe) };
  if (typeof v === 'object') {
    const fields = {};
    for (const [k, x] of Object.entries(v)) fields[k] = describe(x);
    return { type: 'object', fields };
  }
  return { type: typeof v, text: String(v), isSafeInteger: typeof v === 'number' ? Number.isSafeInteger(v) : undefined };
}

async function echo(...args) {
  return args;
}

async function echoNative(...args) {
  return args;
}

async function fail(message) {
  const e = new Error(message);
  e.name = 'PaymentError';
  throw e;
}

async function publishEvents(n) {
  for (let i = 0; i < n; i++) await DBOS.setEvent('progress', i);
  await DBOS.setEvent('done', { count: n });
  return n;
}

async function eventAfterMessage(key, topic, timeoutSeconds) {
  await DBOS.setEvent('status', 'waiting');
  const msg = await DBOS.recv(topic ?? undefined, timeoutSeconds);
  await DBOS.setEvent(key, msg);
  return msg;
}

async function recvN(topic, n, timeoutSeconds) {
  const got = [];
  for (let i = 0; i < n; i++) got.push(await DBOS.recv(topic ?? undefined, timeoutSeconds));
  return got;
}

async function streamValues(key, values, close, delayMs) {
  for (const v of values) {
    await DBOS.writeStream(key, v);
    if (delayMs) await DBOS.sleep(delayMs);
  }
  if (close) await DBOS.closeStream(key);
  return values.length;
}

async function sleepWf(seconds) {
  await DBOS.sleepSeconds(seconds);
  return seconds;
}

async function stepsWf(n) {
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += await DBOS.runStep(async () => i * 10, { name: `add_${i}` });
  }
  await DBOS.runStep(async () => richValue(), { name: 'rich_step' });
  return total;
}

// Values TS writes in its own format (js_superjson): result, event, stream, step output.
async function richNative() {
  const v = richValue();
  const native = { serializationType: 'native' };
  await DBOS.setEvent('rich', v, native);
  await DBOS.setEvent('date', v.date, native);
  await DBOS.setEvent('undef', undefined, native);
  await DBOS.writeStream('rich', v, native);
  await DBOS.writeStream('rich', v.big, native);
  await DBOS.closeStream('rich');
  await DBOS.runStep(async () => v, { name: 'rich_step' });
  return v;
}

async function failNative(message) {
  const e = new TypeError(message);
  e.code = 'E_BAD';
  throw e;
}

// What a portable workflow's own values become in portable JSON (DBOSPortableJSON's replacer).
async function portableValues() {
  const v = {
    date: new Date('2024-02-29T12:34:56.789Z'),
    big: 12345678901234567890n,
    map: new Map([['a', 1]]),
    set: new Set(['x']),
    error: new RangeError('r'),
    undef: undefined,
    list: [undefined, 'ü'],
  };
  await DBOS.setEvent('values', v);
  return v;
}

// Values Python wrote (portable JSON), as JS sees them; echoed back in both formats.
async function describeArgs(...args) {
  await DBOS.setEvent('seen_native', args);
  return describe(args);
}

async function describeMessage(topic, timeoutSeconds) {
  const msg = await DBOS.recv(topic ?? undefined, timeoutSeconds);
  await DBOS.setEvent('seen', describe(msg));
  await DBOS.setEvent('echo_native', msg, { serializationType: 'native' });
  return describe(msg);
}

// Starts a workflow registered with the default serializer as a child, so its inputs, output
// and error are js_superjson (a portable enqueue makes the enqueued workflow itself portable).
const nativeWorkflows = {};
async function startNative(name, ...args) {
  const handle = await DBOS.startWorkflow(nativeWorkflows[name])(...args);
  return handle.workflowID;
}

const workflows = [
  [echo, 'echo', portable],
  [fail, 'fail', portable],
  [publishEvents, 'publish_events', portable],
  [eventAfterMessage, 'event_after_message', portable],
  [recvN, 'recv_n', portable],
  [streamValues, 'stream_values', portable],
  [sleepWf, 'sleep_wf', portable],
  [stepsWf, 'steps_wf', portable],
  [describeArgs, 'describe_args', portable],
  [describeMessage, 'describe_message', portable],
  [portableValues, 'portable_values', portable],
  [startNative, 'start_native', portable],
  [richNative, 'rich_native', {}],
  [failNative, 'fail_native', {}],
  [echoNative, 'echo_native', {}],
];

async function main() {
  for (const [fn, name, config] of workflows) {
    const registered = DBOS.registerWorkflow(fn, { name, ...config });
    if (name.endsWith('_native')) nativeWorkflows[name] = registered;
  }
  DBOS.setConfig({
    name: 'dbos-client-ts-interop',
    systemDatabaseUrl: process.env.DBOS_SYSTEM_DATABASE_URL,
    logLevel: process.env.TS_APP_LOG_LEVEL || 'warn',
  });
  await DBOS.launch();
  await DBOS.registerQueue(QUEUE, { minPollingIntervalMs: 100 });
  process.stdout.write('READY\n');
  const stop = async () => {
    await DBOS.shutdown();
    process.exit(0);
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`ts_app failed: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
