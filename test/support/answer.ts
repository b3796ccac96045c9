/** @module An HTTP answer read whole, as the HTTP-level tests inspect it. */

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed body, or `undefined` when it is not JSON. */
  json: unknown;
}

/**
 * A fetch response read whole: status, headers, text, and the JSON it holds if any.
 *
 * @example
 * const answer = await answerOf(await fetch(url));
 */
export async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
