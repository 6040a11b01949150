/**
 * A loopback stand-in for alternative.me's Fear and Greed index (GET /fng/), answering in its
 * format: `{"name":"Fear and Greed Index","data":[{"value":"54","value_classification":"Neutral",
 * "timestamp":"1732579200"}]}`, values and timestamps as strings. fail() makes the next answers
 * errors or garbage; every request is counted.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FearGreedStandin {
  /** The index URL, for FEAR_GREED_URL. */
  url: string;
  requests: number;
  set(value: string, classification: string, timestamp: string): void;
  /** The next `times` requests get this status (with a JSON error) or, with `body`, this body. */
  fail(times: number, answer: { status?: number; body?: string }): void;
  close(): Promise<void>;
}

export async function startFearGreedStandin(): Promise<FearGreedStandin> {
  let reading = { value: '54', value_classification: 'Neutral', timestamp: '1764000000' };
  const failures: Array<{ status?: number; body?: string }> = [];
  const state = { requests: 0 };

  const send = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  };

  const server = createServer((req, res) => {
    state.requests++;
    const failure = failures.shift();
    if (failure) return send(res, failure.status ?? 200, failure.body ?? JSON.stringify({ error: 'Internal Server Error' }));
    if (!req.url?.startsWith('/fng/')) return send(res, 404, JSON.stringify({ error: 'not found' }));
    send(res, 200, JSON.stringify({ name: 'Fear and Greed Index', data: [{ ...reading, time_until_update: '3600' }], metadata: { error: null } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/fng/`,
    get requests() {
      return state.requests;
    },
    set: (value, classification, timestamp) => void (reading = { value, value_classification: classification, timestamp }),
    fail: (times, answer) => {
      for (let i = 0; i < times; i++) failures.push(answer);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
