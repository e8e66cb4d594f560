/** ClusterConfigs for the sandbox's simulated VPC (vpc-sandbox-a), shared by the create-cluster tests. */
export const ACCOUNT = '123456789012';

export interface SandboxConfigOptions {
  name?: string;
  version?: string;
  desiredCapacity?: number;
  /** Appended to the file as-is (more top-level keys). */
  extra?: string;
}

export function sandboxClusterConfig(o: SandboxConfigOptions = {}): string {
  return `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: ${o.name ?? 'green'}
  region: ap-northeast-1
  version: "${o.version ?? '1.33'}"
  tags:
    team: sre
vpc:
  subnets:
    private:
      ap-northeast-1a: { id: subnet-0a000000000000001a }
      ap-northeast-1c: { id: subnet-0a000000000000001c }
    public:
      ap-northeast-1d: { id: subnet-0a000000000000001d }
iam:
  serviceRoleARN: arn:aws:iam::${ACCOUNT}:role/eks-cluster
  withOIDC: true
  podIdentityAssociations:
    - namespace: web
      serviceAccountName: web
      roleARN: arn:aws:iam::${ACCOUNT}:role/web-pods
accessConfig:
  accessEntries:
    - principalARN: arn:aws:iam::${ACCOUNT}:role/deployer
      kubernetesGroups: [deployers]
      accessPolicies:
        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy
          accessScope: { type: cluster }
    - principalARN: arn:aws:iam::${ACCOUNT}:role/viewer
      accessPolicies:
        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
          accessScope: { type: namespace, namespaces: [web] }
addons:
  - name: vpc-cni
    version: latest
    configurationValues: '{"env":{"ENABLE_PREFIX_DELEGATION":"true"}}'
  - name: aws-ebs-csi-driver
    serviceAccountRoleARN: arn:aws:iam::${ACCOUNT}:role/ebs-csi
managedNodeGroups:
  - name: system
    instanceType: m6i.large
    desiredCapacity: ${o.desiredCapacity ?? 2}
    minSize: 1
    maxSize: 4
    privateNetworking: true
    labels: { role: system }
    taints:
      - { key: CriticalAddonsOnly, value: "true", effect: NoSchedule }
    iam:
      instanceRoleARN: arn:aws:iam::${ACCOUNT}:role/eks-node
  - name: apps
    instanceTypes: [m7g.large, m6g.large]
    spot: true
    desiredCapacity: 1
    privateNetworking: true
    iam:
      instanceRoleARN: arn:aws:iam::${ACCOUNT}:role/eks-node
${o.extra ?? ''}`;
}
