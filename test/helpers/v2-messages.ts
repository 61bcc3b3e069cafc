import assert from 'node:assert/strict';
import { http } from './app.js';

/** Sends one message over `POST /v2/messages` as the API key's server; it must be accepted. Its id. */
export async function sendV2(url: string, apiKey: string, body: Record<string, unknown>): Promise<string> {
  const res = await http(url, 'POST', '/v2/messages', { body, headers: { 'X-Server-API-Key': apiKey } });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body.messages[0].id as string;
}

/** Asks `GET /v2/messages/{id}` until the message has `status`; its view then. */
export async function waitForStatus<View extends { status: string }>(
  url: string,
  apiKey: string,
  id: string,
  status: string,
  timeoutMs = 20_000,
): Promise<View> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = (await http(url, 'GET', `/v2/messages/${id}`, { headers: { 'X-Server-API-Key': apiKey } })).body as View;
    if (v.status === status) return v;
    if (Date.now() > deadline)
      throw new Error(`message ${id} is ${v.status}, expected ${status}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
