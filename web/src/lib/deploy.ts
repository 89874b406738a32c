// "Run a container": the form's fields turned into the objects kubectl
// users would write by hand — a Deployment, and when asked a Service and
// an Ingress — and the checks made before anything is sent.
import { GPU_PRODUCT_LABEL, GPU_RESOURCE } from './k8s/node';
import type { KubeObject } from './k8s/resource';

export type Protocol = 'TCP' | 'UDP';
export type Expose = 'none' | 'ClusterIP' | 'NodePort' | 'LoadBalancer';

export interface PortField {
  port: string;
  protocol: Protocol;
}

export interface EnvField {
  name: string;
  source: 'value' | 'secret' | 'configMap';
  /** The value, or the Secret's or ConfigMap's name. */
  value: string;
  /** The key in the Secret or ConfigMap. */
  key: string;
}

export interface VolumeField {
  kind: 'emptyDir' | 'pvc';
  /** The claim's name for a PVC. */
  claim: string;
  mountPath: string;
}

export interface DeployForm {
  name: string;
  namespace: string;
  image: string;
  replicas: string;
  /** One argument per line. */
  command: string;
  args: string;
  ports: PortField[];
  env: EnvField[];
  cpuRequest: string;
  cpuLimit: string;
  memoryRequest: string;
  memoryLimit: string;
  gpus: string;
  gpuProduct: string;
  volumes: VolumeField[];
  expose: Expose;
  ingressHost: string;
}

export function emptyForm(namespace: string): DeployForm {
  return {
    name: '',
    namespace,
    image: '',
    replicas: '1',
    command: '',
    args: '',
    ports: [],
    env: [],
    cpuRequest: '',
    cpuLimit: '',
    memoryRequest: '',
    memoryLimit: '',
    gpus: '',
    gpuProduct: '',
    volumes: [],
    expose: 'none',
    ingressHost: '',
  };
}

/** What is wrong with a field; the page words each in the user's language. */
export type Problem =
  | 'required'
  | 'dnsLabel'
  | 'wholeNumber'
  | 'port'
  | 'quantity'
  | 'envName'
  | 'limitBelowRequest'
  | 'needsPort'
  | 'hostname'
  | 'absolutePath'
  | 'duplicate';

export type Problems = Record<string, Problem>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUANTITY = /^([+]?[0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const HOST = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const isWhole = (s: string, min = 0) => /^[0-9]+$/.test(s.trim()) && Number(s) >= min;

/** quantityValue reads a quantity as a number, for comparing a request with its limit. */
export function quantityValue(q: string): number {
  const m = /^([0-9.]+)([eE][+-]?[0-9]+|[a-zA-Z]*)$/.exec(q.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  const suffix = m[2] ?? '';
  const dec: Record<string, number> = { '': 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
  const bin: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  if (/^[eE]/.test(suffix)) return n * 10 ** Number(suffix.slice(1));
  return n * (dec[suffix] ?? bin[suffix] ?? NaN);
}

/** validate checks the form; an empty result means it can be sent. */
export function validate(f: DeployForm): Problems {
  const p: Problems = {};
  if (!f.name.trim()) p.name = 'required';
  else if (f.name.length > 63 || !DNS_LABEL.test(f.name)) p.name = 'dnsLabel';
  if (!f.namespace.trim()) p.namespace = 'required';
  else if (!DNS_LABEL.test(f.namespace)) p.namespace = 'dnsLabel';
  if (!f.image.trim()) p.image = 'required';
  if (!isWhole(f.replicas)) p.replicas = 'wholeNumber';
  const seenPorts = new Set<string>();
  f.ports.forEach((port, i) => {
    if (!isWhole(port.port, 1) || Number(port.port) > 65535) p[`ports.${i}`] = 'port';
    else if (seenPorts.has(`${port.port}/${port.protocol}`)) p[`ports.${i}`] = 'duplicate';
    seenPorts.add(`${port.port}/${port.protocol}`);
  });
  const seenEnv = new Set<string>();
  f.env.forEach((e, i) => {
    if (!ENV_NAME.test(e.name)) p[`env.${i}.name`] = e.name ? 'envName' : 'required';
    else if (seenEnv.has(e.name)) p[`env.${i}.name`] = 'duplicate';
    seenEnv.add(e.name);
    if (e.source !== 'value') {
      if (!DNS_LABEL.test(e.value) && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(e.value)) p[`env.${i}.value`] = e.value ? 'dnsLabel' : 'required';
      if (!e.key.trim()) p[`env.${i}.key`] = 'required';
    }
  });
  for (const field of ['cpuRequest', 'cpuLimit', 'memoryRequest', 'memoryLimit'] as const) {
    const v = f[field].trim();
    if (v && !QUANTITY.test(v)) p[field] = 'quantity';
  }
  if (!p.cpuRequest && !p.cpuLimit && f.cpuRequest && f.cpuLimit && quantityValue(f.cpuLimit) < quantityValue(f.cpuRequest)) p.cpuLimit = 'limitBelowRequest';
  if (!p.memoryRequest && !p.memoryLimit && f.memoryRequest && f.memoryLimit && quantityValue(f.memoryLimit) < quantityValue(f.memoryRequest)) p.memoryLimit = 'limitBelowRequest';
  if (f.gpus.trim() && !isWhole(f.gpus)) p.gpus = 'wholeNumber';
  f.volumes.forEach((v, i) => {
    if (!v.mountPath.startsWith('/')) p[`volumes.${i}.mountPath`] = v.mountPath ? 'absolutePath' : 'required';
    if (v.kind === 'pvc' && !DNS_LABEL.test(v.claim) && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v.claim)) p[`volumes.${i}.claim`] = v.claim ? 'dnsLabel' : 'required';
  });
  if (f.expose !== 'none' && f.ports.length === 0) p.expose = 'needsPort';
  if (f.ingressHost.trim()) {
    if (f.expose === 'none' || f.ports.length === 0) p.ingressHost = 'needsPort';
    else if (!HOST.test(f.ingressHost.trim())) p.ingressHost = 'hostname';
  }
  return p;
}

type Obj = KubeObject & Record<string, unknown>;

const lines = (s: string) =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');

function resources(f: DeployForm) {
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (f.cpuRequest.trim()) requests.cpu = f.cpuRequest.trim();
  if (f.memoryRequest.trim()) requests.memory = f.memoryRequest.trim();
  if (f.cpuLimit.trim()) limits.cpu = f.cpuLimit.trim();
  if (f.memoryLimit.trim()) limits.memory = f.memoryLimit.trim();
  // GPUs are an extended resource: the limit is what counts, and the
  // request, when given, must equal it.
  if (f.gpus.trim() && Number(f.gpus) > 0) limits[GPU_RESOURCE] = String(Number(f.gpus));
  const out: Record<string, Record<string, string>> = {};
  if (Object.keys(requests).length) out.requests = requests;
  if (Object.keys(limits).length) out.limits = limits;
  return Object.keys(out).length ? out : undefined;
}

/** manifests builds the objects the form describes: a Deployment, then a Service and an Ingress when asked. */
export function manifests(f: DeployForm): Obj[] {
  const name = f.name.trim();
  const namespace = f.namespace.trim();
  // Each object gets its own copy, so a YAML writer never ties them with anchors.
  const labels = () => ({ app: name });
  const portName = (p: PortField, i: number) => `${p.protocol.toLowerCase()}-${i}`;
  const container: Record<string, unknown> = { name, image: f.image.trim() };
  if (lines(f.command).length) container.command = lines(f.command);
  if (lines(f.args).length) container.args = lines(f.args);
  if (f.ports.length) container.ports = f.ports.map((p, i) => ({ name: portName(p, i), containerPort: Number(p.port), protocol: p.protocol }));
  if (f.env.length) {
    container.env = f.env.map((e) => {
      if (e.source === 'secret') return { name: e.name, valueFrom: { secretKeyRef: { name: e.value, key: e.key } } };
      if (e.source === 'configMap') return { name: e.name, valueFrom: { configMapKeyRef: { name: e.value, key: e.key } } };
      return { name: e.name, value: e.value };
    });
  }
  const res = resources(f);
  if (res) container.resources = res;
  const podSpec: Record<string, unknown> = { containers: [container] };
  if (f.volumes.length) {
    container.volumeMounts = f.volumes.map((v, i) => ({ name: `volume-${i}`, mountPath: v.mountPath }));
    podSpec.volumes = f.volumes.map((v, i) => (v.kind === 'pvc' ? { name: `volume-${i}`, persistentVolumeClaim: { claimName: v.claim } } : { name: `volume-${i}`, emptyDir: {} }));
  }
  if (f.gpuProduct && f.gpus.trim() && Number(f.gpus) > 0) podSpec.nodeSelector = { [GPU_PRODUCT_LABEL]: f.gpuProduct };
  const out: Obj[] = [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels: labels() },
      spec: { replicas: Number(f.replicas), selector: { matchLabels: labels() }, template: { metadata: { labels: labels() }, spec: podSpec } },
    },
  ];
  if (f.expose !== 'none' && f.ports.length) {
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace, labels: labels() },
      spec: { type: f.expose, selector: labels(), ports: f.ports.map((p, i) => ({ name: portName(p, i), port: Number(p.port), targetPort: Number(p.port), protocol: p.protocol })) },
    });
    const host = f.ingressHost.trim();
    const first = f.ports[0];
    if (host && first) {
      out.push({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name, namespace, labels: labels() },
        spec: { rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name, port: { number: Number(first.port) } } } }] } }] },
      });
    }
  }
  return out;
}
