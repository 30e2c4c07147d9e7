// The management API's failures, each with the HTTP status and the JSON body RabbitMQ's API
// sends ({"error": ..., "reason": ...}), so scripts that read RabbitMQ's errors read ours.

/** A request refused with `status`; `error` and `reason` become the JSON body. */
export class HttpError extends Error {
  readonly status: number;
  readonly error: string;
  readonly reason: string;
  /** Extra response headers (WWW-Authenticate on 401). */
  readonly headers: Record<string, string>;

  constructor(status: number, error: string, reason: string, headers: Record<string, string> = {}) {
    super(`${status} ${error}: ${reason}`);
    this.name = 'HttpError';
    this.status = status;
    this.error = error;
    this.reason = reason;
    this.headers = headers;
  }
}

export function badRequest(reason: string): HttpError {
  return new HttpError(400, 'bad_request', reason);
}

/** RabbitMQ's body for a missing object. */
export function notFound(): HttpError {
  return new HttpError(404, 'Object Not Found', 'Not Found');
}

/** RabbitMQ answers every authorisation failure with 401 and a reason. */
export function notAuthorised(reason: string, isBrowserPrompt = false): HttpError {
  // The UI sends X-Requested-With so a failed login does not pop up the browser's own dialog.
  const headers: Record<string, string> = isBrowserPrompt
    ? { 'WWW-Authenticate': 'Basic realm="RabbitMQ Management"' }
    : {};
  return new HttpError(401, 'not_authorized', reason, headers);
}
