import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Certificates for one run of the control plane, made with openssl (Debian's): a CA valid for a
 * day, the API server's serving certificate for 127.0.0.1, one client certificate per component
 * (its user and group are what RBAC sees) and the service-account signing key pair.
 */
export interface Certificates {
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
  clients: Record<ClientName, { cert: string; key: string }>;
}

/** Identities Kubernetes' bootstrap RBAC already grants what each component needs. */
export const clientSubjects = {
  admin: '/O=system:masters/CN=recipe-mesh-admin',
  'kube-controller-manager': '/CN=system:kube-controller-manager',
  'kube-scheduler': '/CN=system:kube-scheduler',
} as const;
export type ClientName = keyof typeof clientSubjects;

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? String(error);
    throw new Error(`openssl ${args[0]} failed (is openssl installed? apt-get install openssl):\n${stderr}`);
  }
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function signed(dir: string, name: string, subject: string, extensions: string): void {
  openssl(dir, ['req', '-new', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  writeFileSync(path.join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  ]);
}

export function generateCertificates(dir: string): Certificates {
  openssl(dir, [
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=recipe-mesh-test-ca',
  ]);
  // 10.96.0.1 is the first address of --service-cluster-ip-range: the `kubernetes` Service.
  signed(
    dir,
    'apiserver',
    '/CN=kube-apiserver',
    [
      'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
      'extendedKeyUsage=serverAuth',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      '',
    ].join('\n'),
  );
  const clients = {} as Certificates['clients'];
  for (const [name, subject] of Object.entries(clientSubjects) as [ClientName, string][]) {
    signed(dir, name, subject, 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
    clients[name] = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  }
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sa.key']);
  openssl(dir, ['ec', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  return {
    ca: path.join(dir, 'ca.crt'),
    caKey: path.join(dir, 'ca.key'),
    serverCert: path.join(dir, 'apiserver.crt'),
    serverKey: path.join(dir, 'apiserver.key'),
    serviceAccountKey: path.join(dir, 'sa.key'),
    serviceAccountPublicKey: path.join(dir, 'sa.pub'),
    clients,
  };
}
