import {
  type FeedbackAnswer,
  FeedbackFileError,
  type FeedbackLine,
  httpFeedbackPost,
  parseFeedbackCsv,
  uploadFeedback,
} from '../../core/monitoring/feedback-upload';

/**
 * The feedback upload's batching against a stand-in for POST /models/{name}/feedback that judges
 * like the real one: it refuses the whole request for the first bad item, naming `feedback[i].label`.
 */

const lines = (n: number, bad: readonly number[] = []): FeedbackLine[] =>
  Array.from({ length: n }, (_, i) => ({
    line: i + 2,
    inferenceId: `id-${i}`,
    label: bad.includes(i) ? 'nope' : 'ok',
  }));

/** The endpoint: stores good batches, refuses the first bad label; `limit` is its MAX_BATCH. */
function endpoint(limit = 1000) {
  const stored: string[] = [];
  const batches: number[] = [];
  const post = async (items: readonly { inferenceId: string; label: string }[]): Promise<FeedbackAnswer> => {
    batches.push(items.length);
    if (items.length > limit)
      return {
        status: 413,
        body: {
          error: {
            code: 'too_many_labels',
            message: `${items.length} labels in one request; the limit is ${limit}`,
            field: 'feedback',
          },
        },
      };
    const bad = items.findIndex((item) => item.label !== 'ok');
    if (bad >= 0)
      return {
        status: 400,
        body: {
          error: {
            code: 'unknown_label',
            message: `label must be one of the model's classes, got "${items[bad].label}"`,
            field: `feedback[${bad}].label`,
          },
        },
      };
    stored.push(...items.map((i) => i.inferenceId));
    return { status: 200, body: { model: 'm', accepted: items.length } };
  };
  return { post, stored, batches };
}

describe('uploadFeedback', () => {
  it('stores every good line and reports every bad one, across batches, resending a batch without its bad line', async () => {
    const api = endpoint();
    const refusedAsTheyCome: number[] = [];
    const result = await uploadFeedback(lines(10, [1, 2, 7]), api.post, {
      batchSize: 4,
      onRefused: (r) => refusedAsTheyCome.push(r.line),
    });
    expect(result).toEqual({
      accepted: 7,
      notSent: 0,
      refused: [3, 4, 9].map((line) => ({
        line,
        inferenceId: `id-${line - 2}`,
        code: 'unknown_label',
        message: 'label must be one of the model\'s classes, got "nope"',
        column: 'label',
      })),
    });
    expect(api.stored.sort()).toEqual(['id-0', 'id-3', 'id-4', 'id-5', 'id-6', 'id-8', 'id-9']);
    // [0..3] refused twice, then [0,3] stored; [4..7] refused once, then stored without 7; [8,9].
    expect(api.batches).toEqual([4, 3, 2, 4, 3, 2]);
    expect(refusedAsTheyCome).toEqual([3, 4, 9]);
  });

  it('halves the batch when the deployment allows fewer labels per request (413), keeping every line', async () => {
    const api = endpoint(300);
    const result = await uploadFeedback(lines(1000), api.post);
    expect(result).toEqual({ accepted: 1000, refused: [], notSent: 0 });
    expect(new Set(api.stored).size).toBe(1000);
    expect(api.batches.slice(0, 3)).toEqual([1000, 500, 250]);
  });

  it('sends a batch again after 503 or 429, then stops when the API keeps refusing, counting what was not sent', async () => {
    const answers: FeedbackAnswer[] = [
      { status: 503, body: { error: { code: 'feedback_unavailable', message: 'send it again shortly' } } },
      { status: 200, body: { accepted: 2 } },
      { status: 429, body: { message: 'Too Many Requests' } },
      { status: 429, body: { message: 'Too Many Requests' } },
      { status: 429, body: { message: 'Too Many Requests' } },
    ];
    const waits: number[] = [];
    const result = await uploadFeedback(lines(5), async () => answers.shift() ?? { status: 500, body: undefined }, {
      batchSize: 2,
      retryDelaysMs: [10, 20],
      sleep: async (ms) => void waits.push(ms),
    });
    expect(result).toEqual({
      accepted: 2,
      refused: [],
      notSent: 3,
      stopped: 'the API refused the request: status 429',
    });
    expect(waits).toEqual([10, 10, 20]);
  });

  it('stops when the API cannot be reached, naming why', async () => {
    const result = await uploadFeedback(lines(3), async () =>
      Promise.reject(new Error('cannot reach http://127.0.0.1:9/models/m/feedback: ECONNREFUSED')),
    );
    expect(result).toEqual({
      accepted: 0,
      refused: [],
      notSent: 3,
      stopped: 'cannot reach http://127.0.0.1:9/models/m/feedback: ECONNREFUSED',
    });
  });
});

describe('parseFeedbackCsv', () => {
  it('reads inferenceId,label lines with their file line numbers (BOM, CRLF, blank lines, spaces around values)', () => {
    expect(parseFeedbackCsv('\uFEFFinferenceId,label\r\na, x\r\n\r\n"b" ,y\r\nc,z,extra\r\n', 'f.csv')).toEqual({
      lines: [
        { line: 2, inferenceId: 'a', label: 'x' },
        { line: 4, inferenceId: 'b', label: 'y' },
      ],
      refused: [{ line: 5, code: 'bad_line', message: 'expected 2 fields (inferenceId,label), got 3' }],
    });
  });

  it('fails for a wrong header, an empty file, no labels, or a quote never closed', () => {
    expect(() => parseFeedbackCsv('label,inferenceId\nx,a\n', 'f.csv')).toThrow(
      new FeedbackFileError('f.csv: the first line must be the header inferenceId,label, got "label,inferenceId"'),
    );
    expect(() => parseFeedbackCsv('', 'f.csv')).toThrow(
      'f.csv: the first line must be the header inferenceId,label, got an empty file',
    );
    expect(() => parseFeedbackCsv('inferenceId,label\n\n', 'f.csv')).toThrow('f.csv: no labels after the header');
    expect(() => parseFeedbackCsv('inferenceId,label\n"a,x\nb,y\n', 'f.csv')).toThrow(/^f\.csv: not a readable CSV/);
  });
});

describe('httpFeedbackPost', () => {
  test('a platform that does not answer fails with EndpointUnreachableError naming the URL', async () => {
    const { createServer } = await import('node:net');
    // A port that was free a moment ago: nothing listens there now.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = server.address() as { port: number };
        server.close(() => resolve(free));
      });
    });
    const post = httpFeedbackPost(`http://127.0.0.1:${port}`, 'iris');

    const failure = post([{ inferenceId: 'a', label: 'setosa' }] as never);

    await expect(failure).rejects.toMatchObject({
      name: 'EndpointUnreachableError',
      message: expect.stringContaining(`cannot reach http://127.0.0.1:${port}/models/iris/feedback`),
    });
  });
});
