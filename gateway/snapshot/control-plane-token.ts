/**
 * @module The gateway node's access token for the control plane: the client-credentials grant
 * (openid-client; token endpoint by the issuer's discovery), renewed before it expires, minted once
 * for every caller (the snapshot source and the access-record shipper share one).
 */
import * as oidc from 'openid-client';
import type { Logger } from '../../policies/index.js';

/** The service client the node authenticates as (granted the control plane's `gateway` role). */
export interface ControlPlaneCredentials {
  /** OpenID issuer whose discovery document names the token endpoint. */
  issuer: string;
  /** Service client granted the control plane's `gateway` role. */
  clientId: string;
  clientSecret: string;
  /** Client authentication at the token endpoint. Default `client_secret_basic`. */
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post';
  /** `scope` of the token request. Default none (the provider's default for the client). */
  scope?: string;
  /** RFC 8707 `resource` of the token request. Default none. */
  resource?: string;
  /**
   * Allow plain-HTTP token requests to a non-loopback issuer. Default false: only
   * `http://127.0.0.1`, `localhost` and `[::1]` issuers may use HTTP.
   */
  allowInsecureHttp?: boolean;
}

export interface ControlPlaneTokenSourceOptions extends ControlPlaneCredentials {
  logger: Logger;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface ControlPlaneTokenSource {
  /** A valid token, minted when none is held or it is close to expiry; rejects when `signal` aborts. */
  get(signal: AbortSignal): Promise<string>;
  /** The control plane refused the token: mint a new one next time. */
  invalidate(): void;
}

/** Renewed this long before it expires (or at 80 % of a shorter lifetime). */
const TOKEN_RENEW_MARGIN_MS = 60_000;
const LOOPBACK_HTTP = /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/;

/**
 * What a failed exchange with the identity provider or the control plane says, safe to log:
 * the provider's OAuth error code, or the network error's code, never a credential.
 */
export function describeControlPlaneFailure(error: unknown): string {
  if (error instanceof oidc.ResponseBodyError) return `identity provider refused the client credentials (${error.error}, HTTP ${error.status})`;
  const e = error as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause === undefined ? `${e.name}: ${e.message}` : `${e.message} (${cause})`;
}

/**
 * @param options.tokenEndpointAuthMethod default `client_secret_basic`
 * @param options.allowInsecureHttp default false (loopback issuers may always use HTTP)
 * @example
 * const tokens = createControlPlaneTokenSource({
 *   issuer: 'https://idp.example/realms/gatehouse', clientId: 'gatehouse-gateway',
 *   clientSecret: process.env.GATEWAY_CLIENT_SECRET!, logger,
 * });
 * const token = await tokens.get(AbortSignal.timeout(10_000));
 */
export function createControlPlaneTokenSource(options: ControlPlaneTokenSourceOptions): ControlPlaneTokenSource {
  const fetchFn = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const issuer = new URL(options.issuer);
  const insecure = options.allowInsecureHttp === true || LOOPBACK_HTTP.test(issuer.href);
  const auth =
    (options.tokenEndpointAuthMethod ?? 'client_secret_basic') === 'client_secret_basic'
      ? oidc.ClientSecretBasic(options.clientSecret)
      : oidc.ClientSecretPost(options.clientSecret);
  const parameters: Record<string, string> = {
    ...(options.scope === undefined ? {} : { scope: options.scope }),
    ...(options.resource === undefined ? {} : { resource: options.resource }),
  };
  let config: oidc.Configuration | undefined;
  let token: { value: string; renewAt: number } | undefined;
  let minting: Promise<string> | undefined;

  async function mint(): Promise<string> {
    // Discovery is repeated until it succeeds once (the provider may start after the gateway).
    config ??= await oidc.discovery(issuer, options.clientId, undefined, auth, {
      [oidc.customFetch]: fetchFn,
      ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
    });
    const response = await oidc.clientCredentialsGrant(config, parameters);
    const lifetimeMs = (response.expiresIn() ?? 300) * 1000;
    token = { value: response.access_token, renewAt: now() + Math.min(lifetimeMs - TOKEN_RENEW_MARGIN_MS, lifetimeMs * 0.8) };
    options.logger.debug('control-plane access token obtained', { clientId: options.clientId, expiresInSeconds: lifetimeMs / 1000 });
    return token.value;
  }

  return {
    get(signal) {
      if (token !== undefined && now() < token.renewAt) return Promise.resolve(token.value);
      minting ??= mint().finally(() => {
        minting = undefined;
      });
      const pending = minting;
      // The grant itself is not aborted (another caller may wait for it); this caller stops waiting.
      return new Promise<string>((resolve, reject) => {
        const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        pending.then(
          (value) => {
            signal.removeEventListener('abort', onAbort);
            resolve(value);
          },
          (error: unknown) => {
            signal.removeEventListener('abort', onAbort);
            reject(error as Error);
          },
        );
      });
    },
    invalidate() {
      token = undefined;
    },
  };
}
