import { describe, expect, it } from 'vitest';
import {
  ERROR_STATUS,
  type ErrorCode,
  isSkypatrolError,
  SkypatrolError,
  wrapError,
} from '../../services/core/errors.ts';

describe('ERROR_STATUS', () => {
  it.each<[ErrorCode, number]>([
    ['CONFIG_INVALID', 500],
    ['VALIDATION', 400],
    ['NOT_FOUND', 404],
    ['CONFLICT', 409],
    ['SCENE_EMPTY', 422],
    ['SCENE_NOT_FOUND', 422],
    ['SCENE_MISSING_BAND', 422],
    ['SCENE_NOT_TIFF', 422],
    ['SCENE_CORRUPT', 422],
    ['SCENE_CRS_UNSUPPORTED', 422],
    ['SCENE_NO_OVERLAP', 422],
    ['DETECTOR_INVALID', 500],
    ['DETECTOR_UNKNOWN', 404],
    ['MODEL_FAILED', 500],
    ['DB_UNAVAILABLE', 503],
    ['REDIS_UNAVAILABLE', 503],
    ['INTERNAL', 500],
  ])('maps %s to HTTP %i', (code, status) => {
    expect(ERROR_STATUS[code]).toBe(status);
    expect(new SkypatrolError(code, 'x').status).toBe(status);
  });

  it('gives every code a 4xx or 5xx status', () => {
    for (const status of Object.values(ERROR_STATUS)) {
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(600);
    }
  });
});

describe('SkypatrolError', () => {
  it('is an Error with name, code and message', () => {
    const err = new SkypatrolError('NOT_FOUND', 'clue 7 not found');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('SkypatrolError');
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toBe('clue 7 not found');
  });

  it('is not retryable and has no cause or details by default', () => {
    const err = new SkypatrolError('INTERNAL', 'boom');
    expect(err.retryable).toBe(false);
    expect(err.cause).toBeUndefined();
    expect(err.details).toBeUndefined();
  });

  it('keeps cause, retryable and details when given', () => {
    const cause = new Error('ECONNREFUSED');
    const err = new SkypatrolError('DB_UNAVAILABLE', 'db down', {
      cause,
      retryable: true,
      details: { host: 'db' },
    });
    expect(err.cause).toBe(cause);
    expect(err.retryable).toBe(true);
    expect(err.details).toEqual({ host: 'db' });
  });
});

describe('isSkypatrolError', () => {
  it('recognises SkypatrolError and nothing else', () => {
    expect(isSkypatrolError(new SkypatrolError('VALIDATION', 'bad'))).toBe(true);
    expect(isSkypatrolError(new Error('bad'))).toBe(false);
    expect(isSkypatrolError({ code: 'VALIDATION' })).toBe(false);
  });
});

describe('wrapError', () => {
  it('returns a SkypatrolError unchanged, keeping its code', () => {
    const original = new SkypatrolError('SCENE_CORRUPT', 'bad tiff');
    const wrapped = wrapError(original, 'INTERNAL', 'loading scene');
    expect(wrapped).toBe(original);
    expect(wrapped.code).toBe('SCENE_CORRUPT');
    expect(wrapped.message).toBe('bad tiff');
  });

  it('wraps a plain Error with the given code, context and cause', () => {
    const cause = new Error('ENOENT: no such file');
    const wrapped = wrapError(cause, 'SCENE_NOT_FOUND', 'reading B04.tif');
    expect(wrapped).toBeInstanceOf(SkypatrolError);
    expect(wrapped.code).toBe('SCENE_NOT_FOUND');
    expect(wrapped.message).toBe('reading B04.tif: ENOENT: no such file');
    expect(wrapped.cause).toBe(cause);
  });

  it('wraps a thrown non-Error value using its string form', () => {
    const wrapped = wrapError('timeout', 'REDIS_UNAVAILABLE', 'enqueue');
    expect(wrapped.code).toBe('REDIS_UNAVAILABLE');
    expect(wrapped.message).toBe('enqueue: timeout');
    expect(wrapped.cause).toBe('timeout');
  });
});
