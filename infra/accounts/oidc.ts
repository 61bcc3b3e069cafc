import * as client from 'openid-client';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where the provider sends the browser back: `<public URL>/v2/session/oidc/callback`. */
  redirectUri: string;
  /** Allow an http:// issuer (a provider on this machine, in tests); never for a real one. */
  allowHttp: boolean;
}

/** What a login attempt must remember between the redirect out and the callback. */
export interface OidcAttempt {
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface OidcIdentity {
  issuer: string;
  subject: string;
  email: string | undefined;
  emailVerified: boolean;
}

/**
 * OpenID Connect login (authorization code flow with PKCE, state and nonce) through openid-client.
 * The provider's metadata is discovered once, at the first login.
 */
export class OidcLogin {
  private config: Promise<client.Configuration> | undefined;

  constructor(private readonly settings: OidcSettings) {}

  private configuration(): Promise<client.Configuration> {
    this.config ??= client
      .discovery(
        new URL(this.settings.issuer),
        this.settings.clientId,
        this.settings.clientSecret,
        undefined,
        this.settings.allowHttp ? { execute: [client.allowInsecureRequests] } : undefined,
      )
      .catch((err: unknown) => {
        this.config = undefined; // try again at the next login
        throw err;
      });
    return this.config;
  }

  async start(): Promise<{ url: string; attempt: OidcAttempt }> {
    const config = await this.configuration();
    const attempt = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      codeVerifier: client.randomPKCECodeVerifier(),
    };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUri,
      scope: 'openid email',
      code_challenge: await client.calculatePKCECodeChallenge(attempt.codeVerifier),
      code_challenge_method: 'S256',
      state: attempt.state,
      nonce: attempt.nonce,
    });
    return { url: url.href, attempt };
  }

  /** The identity the provider vouches for, from the callback's URL (throws when anything does not check out). */
  async finish(callbackUrl: URL, attempt: OidcAttempt): Promise<OidcIdentity> {
    const config = await this.configuration();
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: attempt.codeVerifier,
      expectedState: attempt.state,
      expectedNonce: attempt.nonce,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('the provider sent no ID token');
    // many providers put the email in the ID token; others (as the spec allows) only in userinfo
    const profile =
      typeof claims.email === 'string' ? claims : await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    return {
      issuer: claims.iss,
      subject: claims.sub,
      email: typeof profile.email === 'string' ? profile.email.toLowerCase() : undefined,
      emailVerified: profile.email_verified === true,
    };
  }
}
