// A client for the management HTTP API as `warren ctl` uses it: Basic auth, JSON in and out,
// and one error class whose messages say what went wrong in words (unreachable broker, login
// refused, missing object), so people see a sentence and scripts see exit code 1.

/** A failed API call, with the HTTP status (0 when the broker could not be reached). */
export class CtlError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'CtlError';
    this.status = status;
  }
}

export interface ClientOptions {
  /** Like http://127.0.0.1:15672 */
  url: string;
  user: string;
  password: string;
}

export class ManagementClient {
  private readonly options: ClientOptions;

  constructor(options: ClientOptions) {
    this.options = options;
  }

  /** `notFound` is what a 404 means for this call, in words ("no queue 'q' in vhost '/'"). */
  async request(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
    notFound = `not found: ${method} ${path}`,
  ): Promise<unknown> {
    const url = `${this.options.url.replace(/\/+$/, '')}/api${path}`;
    const headers: Record<string, string> = {
      ...extraHeaders,
      Authorization: `Basic ${Buffer.from(`${this.options.user}:${this.options.password}`).toString('base64')}`,
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CtlError(
        0,
        `cannot reach the management API at ${this.options.url} (${cause?.code ?? cause?.message ?? (error as Error).message}); is the broker running with management on? (--url or WARREN_MGMT_URL)`,
      );
    }
    const text = await response.text();
    let parsed: unknown = null;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (response.ok) return parsed;
    const reason =
      parsed !== null && typeof parsed === 'object'
        ? String((parsed as { reason?: unknown }).reason ?? text)
        : text;
    if (response.status === 401) {
      throw new CtlError(401, `refused for user '${this.options.user}': ${reason}`);
    }
    if (response.status === 404) throw new CtlError(404, notFound);
    throw new CtlError(response.status, `${method} ${path} failed (${response.status}): ${reason}`);
  }
}
