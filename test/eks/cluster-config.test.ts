import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/common/errors.js';
import { amiTypeFor, parseClusterConfig } from '../../src/eks/cluster-config.js';
import { sandboxClusterConfig } from './sandbox-config.js';

const BASE = `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: green
  region: ap-northeast-1
  version: "1.33"
vpc:
  subnets:
    private:
      ap-northeast-1a: { id: subnet-0a000000000000001a }
      ap-northeast-1c: { id: subnet-0a000000000000001c }
iam:
  serviceRoleARN: arn:aws:iam::123456789012:role/eks-cluster
`;
const NODE_ROLE = 'arn:aws:iam::123456789012:role/eks-node';
const NODEGROUP = `managedNodeGroups:
  - name: ng
    privateNetworking: true
    iam: { instanceRoleARN: ${NODE_ROLE} }
`;

function problems(text: string): ConfigurationError {
  try {
    parseClusterConfig(text, 'cluster.yaml');
  } catch (e) {
    if (e instanceof ConfigurationError) return e;
    throw e;
  }
  throw new Error('expected the config to be refused');
}

/** 1-based line and column of the first occurrence of `marker` in `text`. */
function positionOf(text: string, marker: string): string {
  const index = text.indexOf(marker);
  if (index < 0) throw new Error(`marker ${marker} not in the text`);
  const before = text.slice(0, index).split('\n');
  return `${before.length}:${(before.at(-1) as string).length + 1}`;
}

interface Case {
  name: string;
  text: string;
  message: RegExp;
  /** The text the diagnostic points at (its first occurrence). */
  at: string;
}

const replace = (from: string, to: string): string => {
  if (!BASE.includes(from)) throw new Error(`${from} is not in BASE`);
  return BASE.replace(from, to);
};

const CASES: Case[] = [
  {
    name: 'an unquoted version',
    text: replace('version: "1.33"', 'version: 1.30'),
    message:
      /metadata\.version is the number 1\.3 to YAML \(written 1\.30\); quote it: version: "1\.30"/,
    at: '1.30',
  },
  {
    name: 'a version that is not one',
    text: replace('version: "1.33"', 'version: "latest"'),
    message: /metadata\.version must be a Kubernetes version such as "1\.32", got "latest"/,
    at: '"latest"',
  },
  {
    name: 'a misspelt top-level key',
    text: BASE + 'managedNodegroups: []\n',
    message:
      /Unknown key "managedNodegroups" in the ClusterConfig; did you mean "managedNodeGroups"\?/,
    at: 'managedNodegroups',
  },
  {
    name: 'the wrong apiVersion',
    text: replace('eksctl.io/v1alpha5', 'eksctl.io/v1alpha4'),
    message: /apiVersion must be eksctl\.io\/v1alpha5, got "eksctl\.io\/v1alpha4"/,
    at: 'eksctl.io/v1alpha4',
  },
  {
    name: 'the wrong kind',
    text: replace('kind: ClusterConfig', 'kind: NodeGroup'),
    message: /kind must be ClusterConfig, got "NodeGroup"/,
    at: 'NodeGroup',
  },
  {
    name: 'a cluster name EKS refuses',
    text: replace('name: green', 'name: green.cluster'),
    message: /metadata\.name must be an EKS cluster name/,
    at: 'green.cluster',
  },
  {
    name: 'a region that is not one',
    text: replace('region: ap-northeast-1', 'region: tokyo'),
    message: /metadata\.region must be an AWS region such as ap-northeast-1, got "tokyo"/,
    at: 'tokyo',
  },
  {
    name: 'no service role',
    text: replace(
      '  serviceRoleARN: arn:aws:iam::123456789012:role/eks-cluster',
      '  withOIDC: true',
    ),
    message: /Missing required key "serviceRoleARN" in iam: the ARN of an existing cluster role/,
    at: 'iam:',
  },
  {
    name: 'a misspelt serviceRoleARN',
    text: replace('serviceRoleARN', 'serviceRoleArn'),
    message: /Unknown key "serviceRoleArn" in iam; did you mean "serviceRoleARN"\?/,
    at: 'serviceRoleArn',
  },
  {
    name: 'IRSA service accounts eksctl would create',
    text: BASE + '  serviceAccounts: []\n',
    message: /iam\.serviceAccounts is not supported: eksctl would create IRSA roles/,
    at: 'serviceAccounts',
  },
  {
    name: 'a VPC eksctl would create',
    text: replace('vpc:\n', 'vpc:\n  cidr: 10.0.0.0/16\n'),
    message:
      /vpc\.cidr is not supported: eksctl would create a VPC; give the ids of existing subnets/,
    at: 'cidr',
  },
  {
    name: 'a subnet without an id',
    text: replace('{ id: subnet-0a000000000000001c }', '{ cidr: 10.0.1.0/24 }'),
    message: /vpc\.subnets\.private\.ap-northeast-1c has no id: give the id of an existing subnet/,
    at: 'ap-northeast-1c',
  },
  {
    name: 'a malformed subnet id',
    text: replace('subnet-0a000000000000001c', 'subnet-xyz'),
    message: /must be a subnet id such as subnet-0123456789abcdef0, got "subnet-xyz"/,
    at: 'subnet-xyz',
  },
  {
    name: 'no subnets',
    text: replace('  subnets:\n', '  clusterEndpoints: { publicAccess: true }\n  subnetz:\n'),
    message: /Unknown key "subnetz" in vpc; did you mean "subnets"\?/,
    at: 'subnetz',
  },
  {
    name: 'a single subnet',
    text: replace('      ap-northeast-1c: { id: subnet-0a000000000000001c }\n', ''),
    message: /vpc\.subnets lists one subnet; EKS needs at least two, in two availability zones/,
    at: 'subnets:',
  },
  {
    name: 'both endpoints off',
    text: replace(
      'vpc:\n',
      'vpc:\n  clusterEndpoints: { publicAccess: false, privateAccess: false }\n',
    ),
    message: /turns off both public and private access/,
    at: 'clusterEndpoints',
  },
  {
    name: 'a boolean as a string',
    text: BASE + '  withOIDC: "yes"\n',
    message: /iam\.withOIDC must be true or false, got the string "yes"/,
    at: '"yes"',
  },
  {
    name: 'an unknown authentication mode',
    text: BASE + 'accessConfig:\n  authenticationMode: api\n',
    message:
      /accessConfig\.authenticationMode must be one of CONFIG_MAP, API, API_AND_CONFIG_MAP, got "api"; did you mean "API"\?/,
    at: 'api\n',
  },
  {
    name: 'CONFIG_MAP without the creator',
    text:
      BASE +
      'accessConfig:\n  authenticationMode: CONFIG_MAP\n  bootstrapClusterCreatorAdminPermissions: false\n',
    message:
      /bootstrapClusterCreatorAdminPermissions must be true with authenticationMode CONFIG_MAP/,
    at: 'bootstrapClusterCreatorAdminPermissions',
  },
  {
    name: 'a namespace scope without namespaces',
    text:
      BASE +
      'accessConfig:\n  accessEntries:\n    - principalARN: arn:aws:iam::123456789012:role/dev\n      accessPolicies:\n        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy\n          accessScope: { type: namespace }\n',
    message: /accessScope has type namespace but no namespaces/,
    at: 'accessScope',
  },
  {
    name: 'an access entry principal that is no IAM ARN',
    text: BASE + 'accessConfig:\n  accessEntries:\n    - principalARN: deployer\n',
    message: /principalARN must be an IAM role or user ARN, got "deployer"/,
    at: 'deployer',
  },
  {
    name: 'an add-on IRSA role eksctl would create',
    text:
      BASE +
      'addons:\n  - name: aws-ebs-csi-driver\n    attachPolicyARNs: [arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy]\n',
    message:
      /addons\[0\]\.attachPolicyARNs is not supported: eksctl would create an IRSA role with these policies; create it yourself and give serviceAccountRoleARN/,
    at: 'attachPolicyARNs',
  },
  {
    name: 'an add-on without a name',
    text: BASE + 'addons:\n  - version: latest\n',
    message: /Missing required key "name" in addons\[0\]/,
    at: 'version: latest',
  },
  {
    name: 'a bad resolveConflicts',
    text: BASE + 'addons:\n  - name: coredns\n    resolveConflicts: force\n',
    message: /resolveConflicts must be one of none, overwrite, preserve, got "force"/,
    at: 'force',
  },
  {
    name: 'a node group without a node role',
    text: BASE + 'managedNodeGroups:\n  - name: ng\n    privateNetworking: true\n',
    message:
      /Missing required key "iam" in managedNodeGroups\[0\]: iam\.instanceRoleARN, the node role/,
    at: 'name: ng',
  },
  {
    name: 'a node role eksctl would create',
    text:
      BASE +
      'managedNodeGroups:\n  - name: ng\n    privateNetworking: true\n    iam:\n      attachPolicyARNs: []\n',
    message:
      /attachPolicyARNs is not supported: eksctl would create the node role with these policies; create it yourself and give iam\.instanceRoleARN/,
    at: 'attachPolicyARNs',
  },
  {
    name: 'a launch template',
    text: BASE + NODEGROUP + '    launchTemplate: { id: lt-0123 }\n',
    message: /launchTemplate is not supported: launch templates are not created or used/,
    at: 'launchTemplate',
  },
  {
    name: 'sizes out of order',
    text: BASE + NODEGROUP + '    minSize: 3\n    maxSize: 2\n',
    message: /sizes must satisfy minSize ≤ desiredCapacity ≤ maxSize; got 3 ≤ 3 ≤ 2/,
    at: 'name: ng',
  },
  {
    name: 'a size that is a string',
    text: BASE + NODEGROUP + '    desiredCapacity: "2"\n',
    message:
      /desiredCapacity must be a non-negative integer, got the string "2"; write the number without quotes/,
    at: '"2"',
  },
  {
    name: 'a taint effect the API spells, not eksctl',
    text: BASE + NODEGROUP + '    taints: [{ key: dedicated, value: gpu, effect: NO_SCHEDULE }]\n',
    message: /effect must be one of NoSchedule, NoExecute, PreferNoSchedule, got "NO_SCHEDULE"/,
    at: 'NO_SCHEDULE',
  },
  {
    name: 'an unknown amiFamily',
    text: BASE + NODEGROUP + '    amiFamily: Ubuntu2204\n',
    message: /amiFamily must be one of AmazonLinux2023, AmazonLinux2, Bottlerocket/,
    at: 'Ubuntu2204',
  },
  {
    name: 'a label value that is a number',
    text: BASE + NODEGROUP + '    labels: { tier: 1 }\n',
    message: /labels\.tier must be a string, got 1; quote it: tier: "1"/,
    at: '1 }',
  },
  {
    name: 'public subnets that do not exist',
    text:
      BASE + 'managedNodeGroups:\n  - name: ng\n    iam: { instanceRoleARN: ' + NODE_ROLE + ' }\n',
    message:
      /has no subnet to run in: vpc\.subnets has no public subnet \(set privateNetworking: true/,
    at: 'name: ng',
  },
  {
    name: 'a node group subnet that is not in vpc.subnets',
    text: BASE + NODEGROUP + '    subnets: [ap-northeast-1d]\n',
    message:
      /subnets names "ap-northeast-1d", which is neither a subnet id nor a key of vpc\.subnets/,
    at: '[ap-northeast-1d]',
  },
  {
    name: 'a self-managed node group',
    text: BASE + 'nodeGroups: []\n',
    message:
      /nodeGroups is not supported: self-managed node groups are CloudFormation stacks eksctl builds; use managedNodeGroups/,
    at: 'nodeGroups',
  },
  {
    name: 'a log type that does not exist',
    text: BASE + 'cloudWatch:\n  clusterLogging:\n    enableTypes: [api, audits]\n',
    message:
      /enableTypes has "audits"; the log types are api, audit, authenticator, controllerManager, scheduler/,
    at: '[api, audits]',
  },
  {
    name: 'a KMS key that is not an ARN',
    text: BASE + 'secretsEncryption:\n  keyARN: alias/eks\n',
    message: /secretsEncryption\.keyARN must be a KMS key ARN/,
    at: 'alias/eks',
  },
  {
    name: 'a pod identity role eksctl would create',
    text:
      BASE +
      '  podIdentityAssociations:\n    - namespace: web\n      serviceAccountName: web\n      permissionPolicyARNs: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n',
    message:
      /permissionPolicyARNs is not supported: eksctl would create a role with these policies; give roleARN instead/,
    at: 'permissionPolicyARNs',
  },
  {
    name: 'YAML that does not parse',
    text: replace('  name: green', '  name: [green'),
    message: /YAML syntax error/,
    at: '',
  },
];

describe('parseClusterConfig: invalid configs', () => {
  it('has at least 25 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(25);
  });

  it.each(CASES)('refuses $name, at the right line and column', ({ text, message, at }) => {
    const error = problems(text);
    const match = error.diagnostics.find((d) => message.test(d.message));
    expect(match, `${error.message}`).toBeDefined();
    if (at !== '') expect(`${match?.line}:${match?.col}`).toBe(positionOf(text, at));
    expect(match?.file).toBe('cluster.yaml');
  });

  it('reports every problem at once, in file order', () => {
    const text = replace('version: "1.33"', 'version: 1.30') + 'managedNodegroups: []\nvpc2: {}\n';
    const error = problems(text);
    expect(error.diagnostics.map((d) => `${d.line}:${d.col}`)).toEqual(['6:12', '14:1', '15:1']);
    expect(error.message).toMatch(/^Invalid ClusterConfig in cluster\.yaml \(3 problems\):/);
  });
});

describe('parseClusterConfig: what the config means', () => {
  it('applies eksctl’s defaults and maps its names to the API’s', () => {
    const config = parseClusterConfig(sandboxClusterConfig(), 'cluster.yaml');
    expect(config.version).toBe('1.33');
    expect(config.access.authenticationMode).toBe('API_AND_CONFIG_MAP');
    expect(config.access.bootstrapClusterCreatorAdminPermissions).toBe(true);
    expect(config.addons.map((a) => `${a.name}${a.isDefault ? ' (default)' : ''}`)).toEqual([
      'eks-pod-identity-agent (default)',
      'vpc-cni',
      'kube-proxy (default)',
      'coredns (default)',
      'metrics-server (default)',
      'aws-ebs-csi-driver',
    ]);
    const [system, apps] = config.nodeGroups;
    expect(system).toMatchObject({
      instanceTypes: ['m6i.large'],
      amiType: 'AL2023_x86_64_STANDARD',
      capacityType: 'ON_DEMAND',
      diskSize: 80,
      scaling: { minSize: 1, maxSize: 4, desiredSize: 2 },
      taints: [{ key: 'CriticalAddonsOnly', value: 'true', effect: 'NO_SCHEDULE' }],
      subnets: ['subnet-0a000000000000001a', 'subnet-0a000000000000001c'],
    });
    expect(apps).toMatchObject({
      amiType: 'AL2023_ARM_64_STANDARD',
      capacityType: 'SPOT',
      scaling: { minSize: 1, maxSize: 1, desiredSize: 1 },
    });
  });

  it('labels and tags node groups as eksctl does', () => {
    const [system] = parseClusterConfig(sandboxClusterConfig(), 'cluster.yaml').nodeGroups;
    expect(system?.labels).toEqual({
      role: 'system',
      'alpha.eksctl.io/cluster-name': 'green',
      'alpha.eksctl.io/nodegroup-name': 'system',
    });
    expect(system?.tags).toEqual({
      'alpha.eksctl.io/nodegroup-name': 'system',
      'alpha.eksctl.io/nodegroup-type': 'managed',
    });
  });

  it('has no metrics-server by default where EKS does not offer it', () => {
    const config = parseClusterConfig(BASE.replace('ap-northeast-1\n', 'cn-north-1\n'), 'c.yaml');
    expect(config.addons.map((a) => a.name)).toEqual(['vpc-cni', 'kube-proxy', 'coredns']);
  });

  it('disableDefaultAddons leaves only the listed add-ons', () => {
    const config = parseClusterConfig(
      BASE + 'addonsConfig: { disableDefaultAddons: true }\naddons: [{ name: vpc-cni }]\n',
      'c.yaml',
    );
    expect(config.addons.map((a) => a.name)).toEqual(['vpc-cni']);
  });

  it('node group sizes default as eksctl’s do', () => {
    const sizes = (extra: string) =>
      parseClusterConfig(BASE + NODEGROUP + extra, 'c.yaml').nodeGroups[0]?.scaling;
    expect(sizes('')).toEqual({ minSize: 2, maxSize: 2, desiredSize: 2 });
    expect(sizes('    desiredCapacity: 3\n')).toEqual({ minSize: 3, maxSize: 3, desiredSize: 3 });
    expect(sizes('    minSize: 1\n    maxSize: 5\n')).toEqual({
      minSize: 1,
      maxSize: 5,
      desiredSize: 1,
    });
  });

  it('picks the AMI type from the family and the instance architecture', () => {
    expect(amiTypeFor('AmazonLinux2023', ['t4g.medium'])).toBe('AL2023_ARM_64_STANDARD');
    expect(amiTypeFor('AmazonLinux2023', ['g5.xlarge'])).toBe('AL2023_x86_64_NVIDIA');
    expect(amiTypeFor('Bottlerocket', ['m5.large'])).toBe('BOTTLEROCKET_x86_64');
    expect(amiTypeFor('WindowsServer2022CoreContainer', ['m5.large'])).toBe(
      'WINDOWS_CORE_2022_x86_64',
    );
    expect(amiTypeFor('WindowsServer2022CoreContainer', ['m6g.large'])).toBeUndefined();
  });
});
