/**
 * One error type for the whole service. `code` is stable (clients and tests match on it),
 * `message` is for people, `cause` keeps the adapter's original failure.
 */
export const ERROR_STATUS = {
  CONFIG_INVALID: 500,
  VALIDATION: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  SCENE_EMPTY: 422,
  SCENE_NOT_FOUND: 422,
  SCENE_MISSING_BAND: 422,
  SCENE_NOT_TIFF: 422,
  SCENE_CORRUPT: 422,
  SCENE_CRS_UNSUPPORTED: 422,
  SCENE_NO_OVERLAP: 422,
  SCENE_UNREACHABLE: 503,
  SCENE_INVALID: 422,
  DETECTOR_INVALID: 500,
  DETECTOR_UNKNOWN: 404,
  MODEL_FAILED: 500,
  DB_UNAVAILABLE: 503,
  REDIS_UNAVAILABLE: 503,
  INTERNAL: 500,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  TRANSITION_REFUSED: 409,
  RATE_LIMITED: 429,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  ZONES_INVALID_FILE: 422,
  ZONES_UNKNOWN_LAYER: 400,
  ZONES_UNKNOWN_SRS: 422,
  ZONES_MISSING_PROPERTY: 422,
  ZONES_INVALID_PROPERTY: 422,
  ZONES_INVALID_GEOMETRY: 422,
  AOI_TOO_LARGE: 422,
  PATROL_STATE: 409,
  /** A webhook URL the SSRF guard refuses (loopback, private, link-local, non-http…). */
  WEBHOOK_TARGET_REFUSED: 400,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class SkypatrolError extends Error {
  readonly code: ErrorCode;
  /** Retrying the same input may succeed (network, service down) — workers use this. */
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SkypatrolError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isSkypatrolError(err: unknown): err is SkypatrolError {
  return err instanceof SkypatrolError;
}

/** Wrap any thrown value with context, keeping a SkypatrolError's own code. */
export function wrapError(err: unknown, code: ErrorCode, message: string): SkypatrolError {
  if (err instanceof SkypatrolError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new SkypatrolError(code, `${message}: ${reason}`, { cause: err });
}
