import type { ConfigOf } from '@understudy/config';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { ClientOptions, GrpcServerOptions } from '@understudy/grpc';
import { readMountedFile } from '@understudy/tenancy';
import type { grpcClientSettings, grpcSettings } from './settings.js';

type ClientSettings = ReturnType<typeof grpcClientSettings>;

/** The boot error for variables that only make sense together. */
function together(...variables: string[]): UnderstudyError {
  return new UnderstudyError(
    ErrorCode.InvalidArgument,
    `invalid configuration:\n  ${variables.join(', ')}: set together`,
    { details: { variables } },
  );
}

const readPem = async (path: string, what: string) =>
  Buffer.from(await readMountedFile(path, what), 'utf8');

/** The server options of `grpcSettings`, its TLS files read (a file that cannot stops the boot). */
export async function grpcServerOptions(
  grpc: ConfigOf<typeof grpcSettings>,
): Promise<Pick<GrpcServerOptions, 'host' | 'port' | 'tls'>> {
  const { host, port } = grpc;
  const { certFile, keyFile, clientCaFile } = grpc.tls;
  if (certFile === undefined && keyFile === undefined && clientCaFile === undefined) {
    return { host, port };
  }
  if (certFile === undefined || keyFile === undefined) {
    throw together(
      'UNDERSTUDY_GRPC_TLS_CERT_FILE',
      'UNDERSTUDY_GRPC_TLS_KEY_FILE',
      ...(clientCaFile === undefined ? [] : ['UNDERSTUDY_GRPC_TLS_CLIENT_CA_FILE']),
    );
  }
  const tls = {
    cert: await readPem(certFile, 'gRPC TLS certificate'),
    key: await readPem(keyFile, 'gRPC TLS key'),
    ...(clientCaFile !== undefined && {
      clientCa: await readPem(clientCaFile, 'gRPC client CA'),
    }),
  };
  return { host, port, tls };
}

/**
 * The options a client calls with, from its `grpcClientSettings` (`settings` names the variables
 * in errors): its bearer token and TLS files read once, here (rotating them means a restart).
 */
export async function grpcClientOptions(
  settings: ClientSettings,
  client: ConfigOf<ClientSettings>,
): Promise<Pick<ClientOptions, 'tls' | 'metadata'>> {
  const { caFile, certFile, keyFile } = client.tls;
  if (
    (certFile === undefined) !== (keyFile === undefined) ||
    (certFile !== undefined && caFile === undefined)
  ) {
    const { tls } = settings;
    throw together(tls.caFile.variable, tls.certFile.variable, tls.keyFile.variable);
  }
  const token =
    client.tokenFile === undefined
      ? undefined
      : await readToken(settings.tokenFile.variable, client.tokenFile);
  return {
    ...(token !== undefined && { metadata: { authorization: `Bearer ${token}` } }),
    ...(caFile !== undefined && {
      tls: {
        ca: await readPem(caFile, 'gRPC server CA'),
        ...(certFile !== undefined &&
          keyFile !== undefined && {
            cert: await readPem(certFile, 'gRPC client certificate'),
            key: await readPem(keyFile, 'gRPC client key'),
          }),
      },
    }),
  };
}

/** The one token a token file holds, surrounding whitespace (a final newline) aside. */
async function readToken(variable: string, path: string): Promise<string> {
  const token = (await readMountedFile(path, 'token')).trim();
  if (token === '' || /\s/.test(token)) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `invalid configuration:\n  ${variable}: ${path} holds no single token`,
      { details: { variables: [variable] } },
    );
  }
  return token;
}
