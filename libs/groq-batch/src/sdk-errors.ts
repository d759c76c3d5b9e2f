import * as anthropic from '@anthropic-ai/sdk';
import * as groq from 'groq-sdk';
import * as openai from 'openai';

/**
 * The error classes of one Stainless-generated SDK. groq-sdk, openai and @anthropic-ai/sdk define the
 * same classes with the same fields (`status`, `headers`, `error`), but as distinct classes: an
 * `instanceof` against one SDK misses the others' errors. Every rule that reads an SDK error goes
 * through the helpers below, so it holds for every SDK without being written again.
 */
export interface SdkErrorClasses {
  APIError: typeof groq.APIError | typeof openai.APIError | typeof anthropic.APIError;
  APIConnectionError: typeof groq.APIConnectionError | typeof openai.APIConnectionError | typeof anthropic.APIConnectionError;
  APIConnectionTimeoutError: typeof groq.APIConnectionTimeoutError | typeof openai.APIConnectionTimeoutError | typeof anthropic.APIConnectionTimeoutError;
  APIUserAbortError: typeof groq.APIUserAbortError | typeof openai.APIUserAbortError | typeof anthropic.APIUserAbortError;
}

export const GROQ_SDK_ERRORS: SdkErrorClasses = {
  APIError: groq.APIError,
  APIConnectionError: groq.APIConnectionError,
  APIConnectionTimeoutError: groq.APIConnectionTimeoutError,
  APIUserAbortError: groq.APIUserAbortError,
};

export const OPENAI_SDK_ERRORS: SdkErrorClasses = {
  APIError: openai.APIError,
  APIConnectionError: openai.APIConnectionError,
  APIConnectionTimeoutError: openai.APIConnectionTimeoutError,
  APIUserAbortError: openai.APIUserAbortError,
};

export const ANTHROPIC_SDK_ERRORS: SdkErrorClasses = {
  APIError: anthropic.APIError,
  APIConnectionError: anthropic.APIConnectionError,
  APIConnectionTimeoutError: anthropic.APIConnectionTimeoutError,
  APIUserAbortError: anthropic.APIUserAbortError,
};

const KNOWN_SDKS: readonly SdkErrorClasses[] = [GROQ_SDK_ERRORS, OPENAI_SDK_ERRORS, ANTHROPIC_SDK_ERRORS];

/** What the rules read from an SDK's APIError, whichever SDK threw it. */
export interface SdkApiError extends Error {
  /** Undefined for connection errors, timeouts and aborts (no answer arrived). */
  status: number | undefined;
  headers: Headers | undefined;
  /** The whole JSON body of the answer. */
  error: unknown;
}

const isA = (error: unknown, pick: (sdk: SdkErrorClasses) => abstract new (...args: never[]) => unknown): boolean =>
  KNOWN_SDKS.some((sdk) => error instanceof pick(sdk));

/** An HTTP error, a connection error, a timeout or an abort from either SDK (all are APIErrors). */
export function isSdkApiError(error: unknown): error is SdkApiError {
  return isA(error, (sdk) => sdk.APIError);
}

/** No answer arrived: refused or broken connection, or a timeout. */
export function isSdkConnectionError(error: unknown): error is SdkApiError {
  return isA(error, (sdk) => sdk.APIConnectionError);
}

export function isSdkTimeoutError(error: unknown): error is SdkApiError {
  return isA(error, (sdk) => sdk.APIConnectionTimeoutError);
}

/** The caller's own signal ended the request: never a provider failure, never retried. */
export function isSdkUserAbortError(error: unknown): error is SdkApiError {
  return isA(error, (sdk) => sdk.APIUserAbortError);
}
