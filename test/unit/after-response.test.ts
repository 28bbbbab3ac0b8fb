import { AfterResponse } from '../../lambdas/inference/after-response';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('AfterResponse: work that starts once the answer is handed back', () => {
  test('a task starts after the handler has returned, and after a runtime that posts one setImmediate later', async () => {
    const work = new AfterResponse();
    const order: string[] = [];
    const handler = async () => {
      work.defer(async () => {
        order.push('task');
      });
      return 'answer';
    };
    // Lambda's 4.x runtime client: await the handler, one setImmediate, then post the answer.
    const answer = await handler();
    order.push(`returned ${answer}`);
    await turn();
    order.push('posted');
    await work.settled();
    expect(order).toEqual(['returned answer', 'posted', 'task']);
  });

  test('settled waits for tasks deferred while it waits, and a throwing task neither rejects it nor stops the others', async () => {
    const errors: unknown[] = [];
    const work = new AfterResponse((error) => errors.push(error));
    const done: string[] = [];
    work.defer(async () => {
      await turn();
      work.defer(async () => {
        done.push('second');
      });
      done.push('first');
    });
    work.defer(async () => {
      throw new Error('shadow exploded');
    });
    expect(work.size).toBe(2);
    await expect(work.settled()).resolves.toBeUndefined();
    expect(done).toEqual(['first', 'second']);
    expect(errors).toEqual([new Error('shadow exploded')]);
    expect(work.size).toBe(0);
  });

  test('settled with nothing deferred resolves at once', async () => {
    await expect(new AfterResponse().settled()).resolves.toBeUndefined();
  });
});
