import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { CALLER_ID_HEADER, callerKeyOf, requestIdOf } from '../../lambdas/inference/caller';
import { apiGatewayEvent } from '../../local/api-gateway-event';

/** An event as API Gateway sends it, with the JWT authorizer's claims when `sub` is given. */
function event(options: { callerId?: string; sub?: unknown; sourceIp?: string } = {}): APIGatewayProxyEventV2 {
  const base = apiGatewayEvent({
    method: 'POST',
    path: '/models/iris/predict',
    headers: options.callerId === undefined ? {} : { [CALLER_ID_HEADER]: options.callerId },
    sourceIp: options.sourceIp ?? '203.0.113.7',
  });
  if (options.sub === undefined) return base;
  return {
    ...base,
    requestContext: {
      ...base.requestContext,
      authorizer: { jwt: { claims: { sub: options.sub, iss: 'https://issuer' }, scopes: [] } },
    },
  } as APIGatewayProxyEventV2;
}

describe('callerKeyOf: who a canary assignment sticks to', () => {
  test('the x-caller-id header first, as sent (trimmed), whatever else the request carries', () => {
    expect(callerKeyOf(event({ callerId: ' alice ', sub: 'user-1' }))).toBe('alice');
  });

  test('the header name is matched as API Gateway delivers it (lower case), whatever case the client used', () => {
    const sent = apiGatewayEvent({ method: 'POST', path: '/predict', headers: { 'X-Caller-Id': 'bob' } });
    expect(callerKeyOf(sent)).toBe('bob');
  });

  test('then the JWT sub claim when the JWT authorizer is on', () => {
    expect(callerKeyOf(event({ sub: 'user-1' }))).toBe('user-1');
    expect(callerKeyOf(event({ sub: 42 }))).toBe('42');
  });

  test('then the source IP: an empty header or sub does not count', () => {
    expect(callerKeyOf(event())).toBe('203.0.113.7');
    expect(callerKeyOf(event({ callerId: '   ', sub: '' }))).toBe('203.0.113.7');
  });

  test('claims of another shape are ignored, never thrown on', () => {
    const base = event();
    for (const authorizer of [null, 'jwt', { jwt: null }, { jwt: { claims: 'x' } }, { lambda: { sub: 'x' } }]) {
      expect(
        callerKeyOf({
          ...base,
          requestContext: { ...base.requestContext, authorizer },
        } as unknown as APIGatewayProxyEventV2),
      ).toBe('203.0.113.7');
    }
  });

  test('"anonymous" for an event with none of them, and very long ids are cut to 256 characters', () => {
    const bare = { ...event(), headers: {}, requestContext: {} } as unknown as APIGatewayProxyEventV2;
    expect(callerKeyOf(bare)).toBe('anonymous');
    expect(callerKeyOf(event({ callerId: 'x'.repeat(10_000) }))).toHaveLength(256);
  });
});

describe('requestIdOf: what the shadow sample is decided on', () => {
  test("API Gateway's request id, else a fresh random one each time", () => {
    const e = event();
    expect(requestIdOf(e)).toBe(e.requestContext.requestId);
    const bare = { ...e, requestContext: { ...e.requestContext, requestId: '' } };
    expect(requestIdOf(bare)).not.toBe(requestIdOf(bare));
    expect(requestIdOf(bare)).toMatch(/^[0-9a-f-]{36}$/);
  });
});
