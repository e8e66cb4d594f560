/**
 * What the retire-cluster e2e tests (the action's bundle and the CLI's retire) put in front of
 * the cluster they retire: the rollout file "web" naming blue and green, and blue's demo app
 * bound to its target group, with a CronJob in the singletons' namespace.
 */
import { notifyCronJob } from '../sandbox/kube-fixture.js';

/** The rollout file: blue at weight 0, green with the traffic, `owner` running the CronJobs. */
export function webRolloutFile(o: {
  region: string;
  /** Blue's EKS name. */
  eks: string;
  targetGroups: Record<string, string | undefined>;
  listenerArn: string;
  owner: string;
}): string {
  return `version: 1
name: web
region: ${o.region}
clusters:
  blue:
    eks: ${o.eks}
    targetGroup: ${o.targetGroups.blue}
    service: { namespace: web, name: web, port: 80 }
  green:
    eks: prod-green
    targetGroup: ${o.targetGroups.green}
routes:
  - listener: ${o.listenerArn}
weights: { blue: 0, green: 100 }
canary: green
steps: [10, 25, 50, 100]
owner: ${o.owner}
singletons:
  namespaces: [jobs]
analysis:
  warmup: 0s
  interval: 5s
  duration: 10s
  checks:
    - targetHealth: { minHealthy: 2 }
`;
}

/** The demo app behind a Service bound to blue's target group, and a CronJob the handoff stops. */
export function retireApps(targetGroupArn: string, suspended: boolean): string {
  return `apiVersion: v1
kind: Namespace
metadata: { name: web }
---
apiVersion: v1
kind: Namespace
metadata: { name: jobs }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: web }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: eks-cluster-canary/demo-app:v1
          ports: [{ containerPort: 8080, name: http }]
          readinessProbe: { httpGet: { path: /healthz, port: http }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: web }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: http }]
---
apiVersion: elbv2.k8s.aws/v1beta1
kind: TargetGroupBinding
metadata: { name: web-blue, namespace: web }
spec:
  serviceRef: { name: web, port: 80 }
  targetGroupARN: ${targetGroupArn}
  targetType: ip
---
${notifyCronJob(suspended)}`;
}
