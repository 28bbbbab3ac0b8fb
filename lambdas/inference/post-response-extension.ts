/**
 * Holds the Lambda execution environment until the work deferred past an answer has finished,
 * as an internal extension of the function's own process (Lambda Extensions API, INVOKE events).
 *
 * Lambda sends a synchronous invocation's answer to the caller as soon as the runtime posts it,
 * and freezes the environment once the runtime *and every registered extension* have asked for
 * the next event. Without an extension, work left on the event loop when the handler returns
 * (the shadow) is frozen mid-way and finishes at the next thaw, in the next caller's time. With
 * this extension registered, the extension asks for its next event only once the handler has
 * returned for the invocation and `AfterResponse.settled()` has resolved: the caller has its
 * answer, and the shadow still finishes inside the invocation (its time is billed as
 * post-runtime extension time, and the environment takes no new request until it is done).
 *
 * Internal extensions must register during init, before the runtime first asks for an event:
 * so this module is loaded with `NODE_OPTIONS=--import` (post-response-preload.ts), whose
 * top-level await Node finishes before the runtime starts. The handler module finds the hold
 * through a global (HOLD_KEY) and reports each invocation it has answered. When registration is
 * refused or AWS_LAMBDA_RUNTIME_API is unset (local platform, tests), there is no hold and the
 * handler awaits the deferred work before returning, as it did before this existed.
 *
 * Not verified against AWS here (no account): the protocol is the documented one, exercised in
 * tests against a fake Extensions API server.
 */

export const EXTENSION_NAME = 'post-response-hold';

/** Where the preload leaves the hold for the handler module (both are bundled separately). */
export const HOLD_KEY = Symbol.for('serverless-mlops.post-response-hold');

export interface ExtensionEvent {
  readonly eventType: string;
  readonly requestId?: string;
  /** Epoch ms by which the invocation must end. */
  readonly deadlineMs?: number;
}

export interface ExtensionsApi {
  /** Registers for INVOKE events; resolves to the extension identifier. */
  register(): Promise<string>;
  /** Blocks until Lambda sends the next event to this extension. */
  next(extensionId: string): Promise<ExtensionEvent>;
}

/** The Lambda Extensions API over HTTP at AWS_LAMBDA_RUNTIME_API (host:port). */
export function httpExtensionsApi(runtimeApi: string, fetchImpl: typeof fetch = fetch): ExtensionsApi {
  const base = `http://${runtimeApi}/2020-01-01/extension`;
  return {
    async register() {
      const response = await fetchImpl(`${base}/register`, {
        method: 'POST',
        headers: { 'Lambda-Extension-Name': EXTENSION_NAME, 'content-type': 'application/json' },
        body: JSON.stringify({ events: ['INVOKE'] }),
      });
      const text = await response.text();
      const id = response.headers.get('lambda-extension-identifier');
      if (!response.ok || !id)
        throw new Error(`the Extensions API refused the registration (HTTP ${response.status}): ${text.slice(0, 200)}`);
      return id;
    },
    async next(extensionId) {
      const response = await fetchImpl(`${base}/event/next`, {
        headers: { 'Lambda-Extension-Identifier': extensionId },
      });
      const text = await response.text();
      if (!response.ok)
        throw new Error(`the Extensions API refused the next event (HTTP ${response.status}): ${text.slice(0, 200)}`);
      return JSON.parse(text) as ExtensionEvent;
    },
  };
}

interface Pending {
  /** Settles when the handler has answered and the work it handed over is done (a promise resolved with a promise adopts it). */
  answered: Promise<void>;
  resolve: (work: Promise<void>) => void;
}

/** How long before an invocation's deadline the hold lets go at the latest. */
const DEADLINE_MARGIN_MS = 100;

export interface HoldLog {
  warn(message: string, attributes?: Record<string, unknown>): void;
}

export class PostResponseHold {
  private readonly pending = new Map<string, Pending>();
  private stopped = false;
  private looping = false;

  constructor(
    private readonly log: HoldLog,
    private readonly now: () => number = Date.now,
  ) {}

  /** The handler has answered invocation `requestId`; `work` settles when what it deferred is done (it must never reject). */
  answered(requestId: string, work: Promise<void>): void {
    this.entry(requestId).resolve(work);
  }

  /** Resolves once invocation `requestId` has been answered and its deferred work is done, or at the deadline. */
  async released(requestId: string, deadlineMs: number | undefined): Promise<'done' | 'deadline'> {
    const entry = this.entry(requestId);
    const wait = Math.max(0, (deadlineMs ?? this.now() + 60_000) - DEADLINE_MARGIN_MS - this.now());
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), wait);
    });
    try {
      return await Promise.race([entry.answered.then(() => 'done' as const), deadline]);
    } finally {
      clearTimeout(timer);
      this.pending.delete(requestId);
    }
  }

  /** True while the event loop runs: only then does the handler leave its deferred work to the hold. */
  get holding(): boolean {
    return this.looping;
  }

  /** The extension's event loop: one INVOKE at a time, the next asked for once the previous is released. */
  async run(api: ExtensionsApi, extensionId: string): Promise<void> {
    this.looping = true;
    try {
      while (!this.stopped) {
        const event = await api.next(extensionId);
        if (event.eventType !== 'INVOKE' || !event.requestId) return;
        if ((await this.released(event.requestId, event.deadlineMs)) === 'deadline') {
          this.log.warn(
            'work after the answer was not done by the invocation deadline; the environment was let go without it',
            { requestId: event.requestId },
          );
        }
      }
    } finally {
      this.looping = false;
      this.pending.clear();
    }
  }

  /** Stops asking for events after the current one (tests). */
  stop(): void {
    this.stopped = true;
  }

  private entry(requestId: string): Pending {
    let entry = this.pending.get(requestId);
    if (!entry) {
      let resolve!: (work: Promise<void>) => void;
      const answered = new Promise<void>((r) => {
        resolve = r;
      });
      entry = { answered, resolve };
      this.pending.set(requestId, entry);
    }
    return entry;
  }
}

/**
 * Registers the extension and starts its loop when running in Lambda; undefined elsewhere or when
 * Lambda refuses (the handler then awaits its deferred work itself). A loop that fails later
 * stops holding, which leaves the environment to freeze as if there were no extension.
 */
export async function startPostResponseHold(
  env: NodeJS.ProcessEnv,
  log: HoldLog,
  api?: ExtensionsApi,
): Promise<PostResponseHold | undefined> {
  const runtimeApi = env.AWS_LAMBDA_RUNTIME_API;
  if (!api && !runtimeApi) return undefined;
  const extensions = api ?? httpExtensionsApi(runtimeApi as string);
  let extensionId: string;
  try {
    extensionId = await extensions.register();
  } catch (error) {
    log.warn('the post-response extension could not register; the shadow runs before each answer is returned', {
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
  const hold = new PostResponseHold(log);
  hold.run(extensions, extensionId).catch((error: unknown) => {
    log.warn('the post-response extension stopped', { error: error instanceof Error ? error.message : String(error) });
  });
  return hold;
}

/** The hold the preload registered in this process, if any. */
export function installedHold(): Pick<PostResponseHold, 'answered' | 'holding'> | undefined {
  return (globalThis as Record<symbol, PostResponseHold | undefined>)[HOLD_KEY];
}

export function installHold(hold: PostResponseHold | undefined): void {
  (globalThis as Record<symbol, PostResponseHold | undefined>)[HOLD_KEY] = hold;
}

/**
 * The preload's whole job (NODE_OPTIONS=--import of the bundled post-response-extension.mjs,
 * whose top-level `await preload()` Node finishes before the runtime asks for its first event).
 */
export async function preload(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const log: HoldLog = {
    warn: (message, attributes) => console.warn(JSON.stringify({ level: 'WARN', message, ...attributes })),
  };
  installHold(await startPostResponseHold(env, log));
}
