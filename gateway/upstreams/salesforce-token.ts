/**
 * @module The gateway's own Salesforce access token (upstreams.md §2.2), minted with
 * openid-client: the client-credentials grant (connected app id + secret) or the JWT bearer
 * grant (RS256 assertion signed with the connected app's private key for a pre-authorised
 * user). Salesforce sends no `expires_in`, so a token is used until Salesforce answers 401
 * `INVALID_SESSION_ID` (or `maxAgeSeconds` passes); then it is minted again, once for all the
 * requests that saw the same stale token.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { GatewayError, type Logger } from '../../policies/index.js';

export interface SalesforceOAuthSettings {
  grant: 'client_credentials' | 'jwt_bearer';
  /** Token endpoint; default `{origin of the base URL}/services/oauth2/token` (My Domain). */
  tokenUrl?: string;
  /** Consumer key of the connected app (not a secret). */
  clientId: string;
  /** `client_credentials`: the consumer secret, by reference. */
  clientSecret?: { env: string };
  /** `jwt_bearer`: PKCS#8 or PKCS#1 PEM private key, by reference. */
  privateKey?: { env: string };
  /** `jwt_bearer`: the pre-authorised Salesforce user (`sub`). */
  username?: string;
  /** `jwt_bearer`: assertion `aud`; default `https://login.salesforce.com`. */
  audience?: string;
  /** Mint a fresh token after this long even without a refusal; default 7200 (2 h sessions). */
  maxAgeSeconds?: number;
  /**
   * A refusal within this long of the last mint does not mint again (default 10): Salesforce
   * caps logins per user per hour, and a token refused right after minting points to a
   * configuration problem, not an expired session.
   */
  renewCooldownSeconds?: number;
}

export interface SalesforceTokenSource {
  /** The current token, or `undefined` when one must be minted first. */
  current(): string | undefined;
  /** The current token, minting one when there is none (concurrent callers share the mint). */
  get(): Promise<string>;
  /**
   * Salesforce refused `stale`: mint again, unless another request already did (then the
   * newer token is returned without a second mint) or the cooldown holds (then `stale` itself
   * comes back, meaning: no better token).
   */
  refresh(stale: string): Promise<string>;
}

interface TokenSourceEnv {
  baseUrl: URL;
  resolveSecret(ref: { env: string }, where: string): string;
  logger: Logger;
  fetch: typeof fetch;
  now?: () => number;
}

const LOOPBACK_HTTP = /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\//;

/**
 * Validates the settings and resolves their secrets now (snapshot compile time); throws with
 * the field and variable name, never a value.
 *
 * @example
 * const tokens = createSalesforceTokenSource(
 *   { grant: 'client_credentials', clientId: '3MVG9…', clientSecret: { env: 'SF_CLIENT_SECRET' } },
 *   { baseUrl: new URL('https://acme.my.salesforce.com/services/data/v62.0'), resolveSecret, logger, fetch },
 * );
 * const token = await tokens.get();
 */
export function createSalesforceTokenSource(settings: SalesforceOAuthSettings, env: TokenSourceEnv): SalesforceTokenSource {
  const now = env.now ?? Date.now;
  const tokenUrl = settings.tokenUrl ?? `${env.baseUrl.origin}/services/oauth2/token`;
  const maxAgeMs = (settings.maxAgeSeconds ?? 7200) * 1000;
  const cooldownMs = (settings.renewCooldownSeconds ?? 10) * 1000;
  let clientAuth: oidc.ClientAuth;
  let key: KeyObject | undefined;
  if (settings.grant === 'client_credentials') {
    if (settings.clientSecret === undefined) throw new Error('settings.oauth.clientSecret is required for the client_credentials grant');
    clientAuth = oidc.ClientSecretPost(env.resolveSecret(settings.clientSecret, 'settings.oauth.clientSecret'));
  } else {
    if (settings.privateKey === undefined || settings.username === undefined) {
      throw new Error('settings.oauth.privateKey and settings.oauth.username are required for the jwt_bearer grant');
    }
    const pem = env.resolveSecret(settings.privateKey, 'settings.oauth.privateKey');
    try {
      key = createPrivateKey(pem);
    } catch {
      // The parser's message may quote the input; say only which setting is wrong.
      throw new Error(`settings.oauth.privateKey: secret "${settings.privateKey.env}" is not a PEM private key`);
    }
    clientAuth = oidc.None();
  }
  const config = new oidc.Configuration({ issuer: new URL(tokenUrl).origin, token_endpoint: tokenUrl }, settings.clientId, undefined, clientAuth);
  config[oidc.customFetch] = env.fetch;
  if (LOOPBACK_HTTP.test(tokenUrl)) oidc.allowInsecureRequests(config);

  let token: string | undefined;
  let mintedAt = 0;
  let minting: Promise<string> | undefined;

  async function assertion(): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer(settings.clientId)
      .setSubject(settings.username!)
      .setAudience(settings.audience ?? 'https://login.salesforce.com')
      .setExpirationTime('3m')
      .sign(key!);
  }

  async function mintOnce(): Promise<string> {
    try {
      const response =
        settings.grant === 'client_credentials'
          ? await oidc.clientCredentialsGrant(config)
          : await oidc.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:jwt-bearer', { assertion: await assertion() });
      token = response.access_token;
      mintedAt = now();
      env.logger.info('salesforce token minted', { grant: settings.grant, clientId: settings.clientId, tokenUrl });
      return token;
    } catch (error) {
      token = undefined;
      throw toGatewayError(error);
    }
  }

  function toGatewayError(error: unknown): GatewayError {
    if (error instanceof oidc.ResponseBodyError) {
      // Only the OAuth error code is kept: Salesforce's descriptions are safe, but nothing of
      // the exchange is echoed to callers.
      env.logger.error('salesforce token refused', { grant: settings.grant, clientId: settings.clientId, tokenUrl, oauthError: error.error, status: error.status });
      return new GatewayError('upstream.auth_failed', 'Salesforce refused the gateway credential.', { extensions: { upstream: { system: 'salesforce' } } });
    }
    env.logger.error('salesforce token endpoint unreachable', { grant: settings.grant, tokenUrl, error: (error as Error).message });
    return new GatewayError('upstream.unavailable', 'The Salesforce token endpoint could not be reached.', { extensions: { upstream: { system: 'salesforce' } } });
  }

  function mint(): Promise<string> {
    minting ??= mintOnce().finally(() => {
      minting = undefined;
    });
    return minting;
  }

  return {
    current() {
      return token !== undefined && now() - mintedAt < maxAgeMs ? token : undefined;
    },
    get() {
      const live = this.current();
      return live !== undefined ? Promise.resolve(live) : mint();
    },
    refresh(stale) {
      if (minting !== undefined) return minting;
      if (token !== undefined && token !== stale) return Promise.resolve(token);
      if (token === stale && now() - mintedAt < cooldownMs) {
        env.logger.warn('salesforce refused a token minted moments ago; not renewing during the cooldown', { clientId: settings.clientId, cooldownMs });
        return Promise.resolve(stale);
      }
      token = undefined;
      return mint();
    },
  };
}
