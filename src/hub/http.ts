// HTTP to the hub: our user agent, the bearer token and an idle timeout on every request, and the fetch wrapper
// @huggingface/hub's API calls go through (JSON size limit, failure headers recorded).
import type { Context } from './context';

const MAX_JSON_BYTES = 64 * 1024 * 1024;

const USER_AGENT = `bert-trainer; node/${process.versions.node}`;

/** Aborts a request when no progress is made for `ms` (while armed). */
export class IdleTimeout {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ms: number,
    private readonly url: string,
  ) {}

  arm(): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.controller.abort(new Error(`no response from ${this.url} for ${this.ms / 1000}s (HF_HUB_DOWNLOAD_TIMEOUT)`));
    }, this.ms);
  }

  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** An error's message with its cause (fetch's "fetch failed" keeps the reason there). */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const causeText = cause instanceof Error ? cause.message : cause !== undefined ? String(cause) : '';
  return causeText && !err.message.includes(causeText) ? `${err.message} (${causeText})` : err.message;
}

/** GET `url` with our user agent and the token; returns the response and its idle timeout, for the caller to arm while it reads the body. */
export async function httpGet(ctx: Context, url: string, headers: Record<string, string>): Promise<{ res: Response; idle: IdleTimeout }> {
  const idle = new IdleTimeout(ctx.timeoutMs, url);
  idle.arm();
  try {
    // fetch drops Authorization when a redirect leaves the hub's origin (to a CDN's signed URL).
    const auth: Record<string, string> = ctx.token !== undefined ? { authorization: `Bearer ${ctx.token.token}` } : {};
    const res = await ctx.fetch(url, {
      headers: { 'user-agent': USER_AGENT, ...headers, ...auth },
      redirect: 'follow',
      signal: idle.controller.signal,
    });
    idle.disarm();
    return { res, idle };
  } catch (err) {
    idle.disarm();
    throw err;
  }
}

/** Drops a response's body unread. */
export async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => undefined);
}

/** A request to the hub API failed before an HTTP status (refused, reset, timed out). */
export class NetworkError extends Error {}

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** Wraps `ctx.fetch` for @huggingface/hub's API calls: user agent, idle timeout, JSON size limit, failure headers. */
export function apiFetchFor(ctx: Context): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers);
    headers.set('user-agent', USER_AGENT);
    const idle = new IdleTimeout(ctx.timeoutMs, url.split('?')[0]);
    idle.arm();
    let res: Response;
    try {
      res = await ctx.fetch(url, { ...init, headers, redirect: 'follow', signal: idle.controller.signal });
    } catch (err) {
      throw new NetworkError(errorText(err));
    } finally {
      idle.disarm();
    }
    if (!res.ok) {
      ctx.lastFailure = {
        status: res.status,
        errorCode: res.headers.get('x-error-code') ?? undefined,
        errorMessage: res.headers.get('x-error-message') ?? undefined,
      };
    }
    if (res.body === null || NULL_BODY_STATUSES.has(res.status)) return res;
    const reader = res.body.getReader();
    let total = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        idle.arm();
        try {
          const { done, value } = await reader.read();
          idle.disarm();
          if (done) return controller.close();
          total += value.byteLength;
          if (total > MAX_JSON_BYTES) {
            idle.controller.abort();
            await reader.cancel().catch(() => undefined);
            return controller.error(new NetworkError(`${url.split('?')[0]}: response larger than ${MAX_JSON_BYTES} bytes`));
          }
          controller.enqueue(value);
        } catch (err) {
          idle.disarm();
          controller.error(new NetworkError(errorText(err)));
        }
      },
      cancel(reason) {
        idle.disarm();
        return reader.cancel(reason);
      },
    });
    const wrapped = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    Object.defineProperty(wrapped, 'url', { value: res.url || url });
    return wrapped;
  }) as typeof fetch;
}
