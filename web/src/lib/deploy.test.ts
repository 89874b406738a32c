import { describe, expect, it } from 'vitest';
import { emptyForm, manifests, quantityValue, validate, type DeployForm } from './deploy';

const form = (patch: Partial<DeployForm>): DeployForm => ({ ...emptyForm('ml'), name: 'train', image: 'cuda:12', ...patch });

describe('validate', () => {
  it('accepts a minimal form', () => {
    expect(validate(form({}))).toEqual({});
  });
  it('names each wrong field', () => {
    expect(
      validate(
        form({
          name: 'Train_1',
          image: ' ',
          replicas: '-1',
          ports: [{ port: '0', protocol: 'TCP' }, { port: '80', protocol: 'TCP' }, { port: '80', protocol: 'TCP' }],
          env: [{ name: '1X', source: 'value', value: '', key: '' }, { name: 'S', source: 'secret', value: '', key: '' }],
          cpuRequest: '2',
          cpuLimit: '500m',
          memoryRequest: 'lots',
          gpus: '1.5',
          volumes: [{ kind: 'pvc', claim: '', mountPath: 'data' }],
          ingressHost: 'x.example.com',
        }),
      ),
    ).toEqual({
      name: 'dnsLabel',
      image: 'required',
      replicas: 'wholeNumber',
      'ports.0': 'port',
      'ports.2': 'duplicate',
      'env.0.name': 'envName',
      'env.1.value': 'required',
      'env.1.key': 'required',
      cpuLimit: 'limitBelowRequest',
      memoryRequest: 'quantity',
      gpus: 'wholeNumber',
      'volumes.0.mountPath': 'absolutePath',
      'volumes.0.claim': 'required',
      ingressHost: 'needsPort',
    });
  });
  it('needs a port to expose', () => {
    expect(validate(form({ expose: 'NodePort' }))).toEqual({ expose: 'needsPort' });
  });
  it('compares quantities across units', () => {
    expect(quantityValue('1Gi')).toBe(2 ** 30);
    expect(quantityValue('500m')).toBe(0.5);
    expect(validate(form({ memoryRequest: '1Gi', memoryLimit: '1000Mi' }))).toEqual({ memoryLimit: 'limitBelowRequest' });
    expect(validate(form({ memoryRequest: '1G', memoryLimit: '1Gi' }))).toEqual({});
  });
});

describe('manifests', () => {
  it('build a GPU Deployment pinned to the chosen product', () => {
    const [d, ...rest] = manifests(form({ replicas: '2', gpus: '1', gpuProduct: 'NVIDIA-A100-SXM4-80GB', cpuRequest: '1', memoryLimit: '4Gi', args: 'train.py\n--epochs=3\n' }));
    expect(rest).toEqual([]);
    expect(d).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'train', namespace: 'ml', labels: { app: 'train' } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'train' } },
        template: {
          metadata: { labels: { app: 'train' } },
          spec: {
            containers: [{ name: 'train', image: 'cuda:12', args: ['train.py', '--epochs=3'], resources: { requests: { cpu: '1' }, limits: { memory: '4Gi', 'nvidia.com/gpu': '1' } } }],
            nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB' },
          },
        },
      },
    });
  });
  it('add env from Secrets and ConfigMaps, volumes, a Service and an Ingress', () => {
    const objs = manifests(
      form({
        ports: [{ port: '8080', protocol: 'TCP' }],
        env: [
          { name: 'MODE', source: 'value', value: 'prod', key: '' },
          { name: 'TOKEN', source: 'secret', value: 'api', key: 'token' },
          { name: 'LEVEL', source: 'configMap', value: 'cfg', key: 'level' },
        ],
        volumes: [{ kind: 'emptyDir', claim: '', mountPath: '/tmp/work' }, { kind: 'pvc', claim: 'data', mountPath: '/data' }],
        expose: 'NodePort',
        ingressHost: 'train.example.com',
      }),
    );
    expect(objs.map((o) => o.kind)).toEqual(['Deployment', 'Service', 'Ingress']);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const pod = (objs[0] as any).spec.template.spec;
    expect(pod.containers[0].env).toEqual([
      { name: 'MODE', value: 'prod' },
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'api', key: 'token' } } },
      { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'level' } } },
    ]);
    expect(pod.volumes).toEqual([{ name: 'volume-0', emptyDir: {} }, { name: 'volume-1', persistentVolumeClaim: { claimName: 'data' } }]);
    expect(pod.containers[0].volumeMounts).toEqual([{ name: 'volume-0', mountPath: '/tmp/work' }, { name: 'volume-1', mountPath: '/data' }]);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const [, svc, ing] = objs as any[];
    expect(svc.spec).toEqual({ type: 'NodePort', selector: { app: 'train' }, ports: [{ name: 'tcp-0', port: 8080, targetPort: 8080, protocol: 'TCP' }] });
    expect(ing.spec.rules[0]).toEqual({ host: 'train.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'train', port: { number: 8080 } } } }] } });
  });
});
